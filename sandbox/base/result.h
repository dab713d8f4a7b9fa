// Result<T>: value-or-Error, shaped like std::expected so it can become an alias on g++ 13+.
// Used on both sides of the sandbox/runtime boundary; nothing in sandbox/ throws.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace sandbox {

enum class Errc {
    InvalidArgument,   // caller passed something impossible (bad path, bad limit)
    NotFound,          // a file, controller or program does not exist
    PermissionDenied,  // the host refused (EPERM/EACCES)
    Unsupported,       // the host lacks a layer the policy requires
    Timeout,
    Syscall,  // a syscall failed for another reason; see sys_errno
    Internal,
};

const char* errc_name(Errc code);

// The step a launch stopped at (sandbox/step.h has the steps). Declared here without them so
// that Error can carry one; Step{} is Step::None.
enum class Step : std::uint8_t;

struct Error {
    Errc code = Errc::Internal;
    int sys_errno = 0;
    std::string context;  // what was being done: "mount(/usr -> /usr, ro)"
    // For an error of Sandbox::launch: the step it stopped at, which becomes
    // Outcome::failed_step (launch_failure). Step::None for every other error.
    Step step{};

    // "context: strerror (ENAME)" — the one-line form used in logs and CLI output.
    std::string message() const;
    // Prefix more context while the error travels up: "policy 'default': " + context.
    Error&& with_prefix(const std::string& prefix) && {
        context = prefix + context;
        return std::move(*this);
    }
    // Names the launch step the error stopped at; the context is left as it is.
    Error&& at_step(Step at) && {
        step = at;
        return std::move(*this);
    }
};

// Builds an Error from the current errno. Call it on the line right after the failing call.
inline Error sys_error(std::string context) {
    int saved = errno;
    Errc code = Errc::Syscall;
    if (saved == EPERM || saved == EACCES) code = Errc::PermissionDenied;
    if (saved == ENOENT) code = Errc::NotFound;
    if (saved == ENOSYS || saved == EOPNOTSUPP) code = Errc::Unsupported;
    return Error{code, saved, std::move(context)};
}

inline Error make_error(Errc code, std::string context) {
    return Error{code, 0, std::move(context)};
}

struct Unexpected {
    Error error;
};
inline Unexpected fail(Error e) { return Unexpected{std::move(e)}; }
inline Unexpected fail(Errc code, std::string context) {
    return Unexpected{make_error(code, std::move(context))};
}

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Unexpected u) : err_(std::move(u.error)), ok_(false) {}

    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const& { return err_; }
    Error&& error() && { return std::move(err_); }

private:
    Error err_;
    bool ok_ = true;
};

// Propagate an error from an expression returning Result<...>. Keeps call sites short where a
// function has many fallible steps; the error keeps its original context.
#define SBX_TRY(expr)                                                                     \
    do {                                                                                  \
        auto sbx_try_result_ = (expr);                                                    \
        if (!sbx_try_result_) return ::sandbox::fail(std::move(sbx_try_result_).error()); \
    } while (0)

}  // namespace sandbox
