// The stdio message reader and JSON-RPC envelope validation: the bytes a client sends are cut
// into lines by LineReader (with a small line cap, so the oversized path is reached), each line
// is parsed and validated by jsonrpc::parse, and whatever reply the server would send for it is
// serialised. Also the HTTP header helpers that read client-controlled header values, and the
// whole input as a raw request head: its 2026-07-28 mirror headers, checked against the first
// line taken as a message.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "fuzz/fuzz_util.h"
#include "runtime/http/http_headers.h"
#include "runtime/http/http_stateless.h"
#include "runtime/mcp/jsonrpc.h"
#include "runtime/mcp/transport.h"
#include "runtime/records/record_schema.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void envelope(std::string_view line) {
    using runtime::jsonrpc::Kind;
    runtime::jsonrpc::Message m = runtime::jsonrpc::parse(line);
    switch (m.kind) {
        case Kind::Request:
            check(m.id.is_string() || m.id.is_number_integer());
            check(m.params.is_object() || m.params.is_null());
            (void)runtime::jsonrpc::serialize(runtime::jsonrpc::result(m.id, m.params));
            break;
        case Kind::Notification: check(m.id.is_null()); break;
        case Kind::Response:
            // Never answered; its id is kept only when it is one a request could have had.
            check(m.error_reply.is_null());
            check(m.id.is_null() || m.id.is_string() || m.id.is_number_integer());
            break;
        case Kind::Invalid:
            if (!m.error_reply.is_null()) {
                std::string out = runtime::jsonrpc::serialize(m.error_reply);
                check(out.find('\n') == std::string::npos);  // one line on the wire
                const auto& id = m.error_reply["id"];
                check(id.is_null() || id.is_string() || id.is_number_integer());
            } else {
                check(!m.refusal.empty());  // nothing is sent, but the log says why
            }
            break;
    }
}

// The input as the head of an HTTP request (http_limits::request_head()).
void mirrors(std::string_view head, std::string_view first_line) {
    namespace headers = runtime::http_headers;
    namespace stateless = runtime::http_stateless;
    stateless::MirrorHeaders h = stateless::mirror_headers(head);
    for (const auto* value : {&h.protocol_version, &h.method, &h.name}) {
        if (!*value) continue;
        check(headers::trim(**value) == **value);
        (void)headers::plain_value(**value);
        std::optional<std::string> decoded = headers::decode_sentinel(**value);
        if (!(*value)->starts_with("=?base64?") || !(*value)->ends_with("?=") ||
            (*value)->size() < 11)
            check(decoded && *decoded == **value);  // not the form: the value itself
        else if (decoded)
            check(decoded->size() <= ((*value)->size() - 11) / 4 * 3);
    }
    for (const auto& v : headers::raw_values(head, "Host")) (void)headers::loopback_host(v);
    auto refusal = stateless::check(h, runtime::jsonrpc::parse(first_line));
    if (refusal) {
        check(refusal->status == 400);
        check(refusal->message.contains("error"));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in = fuzz::as_text(data, size);

    // Header helpers: each line of the input as a header value.
    std::string_view first = fuzz::split_line(in).first;
    (void)runtime::http_headers::media_type(first);
    (void)runtime::http_headers::host_name(first);
    (void)runtime::http_headers::loopback_host(first);
    (void)runtime::records::parse_traceparent(first);
    mirrors(in, first);

    // The stdio framing over a real descriptor, as serve reads it.
    int fd = ::memfd_create("fuzz-stdin", MFD_CLOEXEC);
    check(fd >= 0);
    check(::write(fd, data, size) == static_cast<ssize_t>(size) || size == 0);
    check(::lseek(fd, 0, SEEK_SET) == 0);
    runtime::LineReader reader(fd, 4096);
    while (auto line = reader.next()) {
        check(line->text.size() <= 4096);
        check(!line->oversized || line->text.empty());
        check(line->text.find('\n') == std::string::npos);
        if (!line->oversized) envelope(line->text);
    }
    ::close(fd);
    return 0;
}
