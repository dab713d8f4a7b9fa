// Shared helpers and subcommand entry points of tooljail-probe (see probe.cc for the contract
// and the output grammar). Subcommands live in probe_fs.cc, probe_process.cc and
// probe_syscalls.cc; main() and its dispatch in probe.cc.
#pragma once

#include <unistd.h>  // environ

#include <cstddef>
#include <cstdint>

extern char** environ;

namespace probe {

constexpr int kExitMisuse = 2;

// printf to an fd with write(2): unbuffered, so output survives a SIGKILL right after.
__attribute__((format(printf, 2, 3))) void say_fd(int fd, const char* fmt, ...);
#define say(...) say_fd(1, __VA_ARGS__)

const char* ename(int err);
// Reports a syscall-style result: rc < 0 means failure with errno already set.
void report(const char* label, long rc);
[[noreturn]] void misuse(const char* why);
long to_long(const char* s);
uint64_t to_u64(const char* s);
void sleep_ms(long ms);
bool write_all(int fd, const char* data, size_t len);

// probe_fs.cc
int cmd_write(const char* path);
int cmd_read(const char* path);
int cmd_cat(const char* path);
int cmd_ls(const char* path);
int cmd_statfs(const char* path);
int cmd_fill_tmp(uint64_t mb);

// probe_process.cc: identity, environment and processes
int cmd_getuid();
int cmd_caps();
int cmd_hostname();
int cmd_env();
int cmd_fds();
int cmd_rlimit(const char* name);
int cmd_ps();
int cmd_kill(const char* pid, const char* sig);
[[noreturn]] void cmd_spin(long workers);
int cmd_fork_bomb();
int cmd_memory_bomb(uint64_t mb);
int cmd_daemon(long ms, const char* token);
[[noreturn]] void cmd_signal(int sig);

// probe_exec.cc: executing a file the probe wrote (argv: the subcommand's arguments)
int cmd_copy_exec(int argc, char** argv);
int cmd_memfd_exec(int argc, char** argv);

// probe_syscalls.cc: network, denied syscalls, foreign ABIs, ioctls
int cmd_connect(const char* host, const char* port);
int cmd_connect_unix(const char* name);
int cmd_syscall(const char* name);
int cmd_syscall_list();
int cmd_x32();
int cmd_int80();

}  // namespace probe
