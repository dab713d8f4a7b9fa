#include "runtime/tools/tools_lock.h"

#include <cerrno>

#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"
#include "runtime/tools/tool_def.h"
#include "sandbox/base/sys.h"

namespace runtime {

namespace {

bool sha256_hex_string(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

sandbox::Result<ToolsLock> parse_tools_lock(std::string_view text, std::string_view label) {
    json_reader::Context ctx(label);
    auto doc = json_reader::parse(ctx, text);
    if (!doc) return sandbox::fail(std::move(doc).error());
    if (!doc->is_object())
        return ctx.bad("", "expected an object of tool name -> sha256 (got " +
                               json_reader::describe_type(*doc) + ")");
    ToolsLock lock;
    for (const auto& [name, hash] : doc->items()) {
        std::string ptr = "/" + json_reader::escape_token(name);
        if (!valid_tool_name(name)) return ctx.bad(ptr, "not a tool name ([a-z][a-z0-9_]{0,63})");
        if (!hash.is_string() || !sha256_hex_string(hash.get_ref<const std::string&>()))
            return ctx.bad(
                ptr, "expected a sha256 as 64 lowercase hex digits (see `tooljail tools list`)");
        lock.emplace(name, hash.get<std::string>());
    }
    return lock;
}

sandbox::Result<ToolsLock> read_tools_lock(const std::string& path) {
    auto text = sandbox::sys::read_file(path, kMaxLockFileBytes);
    if (!text) {
        if (text.error().sys_errno == ENOENT)
            return sandbox::fail(
                sandbox::Errc::NotFound,
                "tools lock " + path + ": no such file (create it with `tooljail tools approve`)");
        return sandbox::fail(std::move(text).error().with_prefix("tools lock " + path + ": "));
    }
    return parse_tools_lock(*text, path);
}

std::string serialize_tools_lock(const ToolsLock& lock) {
    std::string out = "{";
    const char* sep = "\n";
    for (const auto& [name, hash] : lock) {
        out += sep + nlohmann::json(name).dump() + ": " + nlohmann::json(hash).dump();
        sep = ",\n";
    }
    return out + (lock.empty() ? "}\n" : "\n}\n");
}

sandbox::Result<void> write_tools_lock(const std::string& path, const ToolsLock& lock) {
    return replace_file(path, serialize_tools_lock(lock), 0644, "tools lock " + path);
}

}  // namespace runtime
