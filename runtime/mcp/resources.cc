#include "runtime/mcp/resources.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include <openssl/evp.h>

#include "runtime/mcp/call_result.h"

namespace runtime {
namespace {

constexpr std::string_view kScheme = "tooljail://";
constexpr const char* kPageKey = "tooljail/page";

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            return false;
    return s != "." && s != "..";
}

std::optional<size_t> parse_size(std::string_view s, size_t max) {
    size_t v = 0;
    if (s.empty() || s.size() > 12) return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

// "offset=N&length=M" in any order, each at most once.
bool parse_query(std::string_view query, ResourceRef& ref) {
    bool seen_offset = false, seen_length = false;
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        size_t eq = pair.find('=');
        if (eq == std::string_view::npos) return false;
        std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
        if (key == "offset" && !seen_offset) {
            auto v = parse_size(value, SIZE_MAX / 2);
            if (!v) return false;
            ref.offset = *v;
            seen_offset = true;
        } else if (key == "length" && !seen_length) {
            auto v = parse_size(value, kMaxPageBytes);
            if (!v || *v == 0) return false;
            ref.length = *v;
            seen_length = true;
        } else {
            return false;
        }
    }
    return true;
}

std::string base64(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()),
                            static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

bool valid_utf8(std::string_view s) {
    try {
        (void)nlohmann::json(std::string(s)).dump();  // strict: throws on invalid UTF-8
        return true;
    } catch (const nlohmann::json::type_error&) {
        return false;
    }
}

nlohmann::json json_contents(const std::string& uri, const nlohmann::json& value) {
    return {
        {"contents", {{{"uri", uri}, {"mimeType", "application/json"}, {"text", value.dump(2)}}}}};
}

nlohmann::json output_page(const std::string& uri, const ArchivedRun& run, const ResourceRef& ref) {
    const std::string& data = ref.stream == "stdout" ? run.out : run.err;
    std::string_view rest = std::string_view(data).substr(ref.offset);
    size_t n = utf8_prefix(rest, ref.length);
    if (n == 0 && !rest.empty())
        n = std::min(rest.size(), ref.length);  // a page smaller than one character
    std::string_view page = rest.substr(0, n);
    size_t next = ref.offset + n;
    std::string base = run_output_uri(run.run_id, ref.stream.c_str());
    nlohmann::json meta = {
        {"offset", ref.offset},
        {"length", n},
        {"captured_bytes", data.size()},
        {"written_bytes", run.summary.value(ref.stream + "_bytes", nlohmann::json(data.size()))},
        {"next", next < data.size() ? nlohmann::json(base + "?offset=" + std::to_string(next) +
                                                     (ref.length != kDefaultPageBytes
                                                          ? "&length=" + std::to_string(ref.length)
                                                          : ""))
                                    : nlohmann::json(nullptr)}};
    nlohmann::json item = {{"uri", uri}, {"_meta", {{kPageKey, meta}}}};
    if (valid_utf8(page)) {
        item["mimeType"] = "text/plain";
        item["text"] = std::string(page);
    } else {
        item["mimeType"] = "application/octet-stream";
        item["blob"] = base64(page);
    }
    return {{"contents", nlohmann::json::array({item})}};
}

}  // namespace

std::optional<ResourceRef> parse_resource_uri(const std::string& uri) {
    if (uri.size() > 512 || uri.compare(0, kScheme.size(), kScheme) != 0) return std::nullopt;
    std::string_view rest = std::string_view(uri).substr(kScheme.size());
    std::string_view query;
    bool has_query = false;
    if (size_t q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
        has_query = true;
    }
    std::vector<std::string_view> parts;
    while (true) {
        size_t slash = rest.find('/');
        parts.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest = rest.substr(slash + 1);
    }
    ResourceRef ref;
    if (parts.size() < 2 || !valid_name(parts[1])) return std::nullopt;
    ref.name = std::string(parts[1]);
    if (parts[0] == "runs" && parts.size() == 2 && !has_query) {
        ref.kind = "run";
    } else if (parts[0] == "runs" && parts.size() == 3 &&
               (parts[2] == "stdout" || parts[2] == "stderr")) {
        ref.kind = "output";
        ref.stream = std::string(parts[2]);
        if (has_query && !parse_query(query, ref)) return std::nullopt;
    } else if (parts[0] == "policies" && parts.size() == 2 && !has_query) {
        ref.kind = "policy";
    } else if (parts[0] == "tools" && parts.size() == 3 && parts[2] == "policy" && !has_query) {
        ref.kind = "tool_policy";
    } else {
        return std::nullopt;
    }
    return ref;
}

std::optional<size_t> parse_cursor(const nlohmann::json& params, size_t total) {
    if (!params.is_object() || !params.contains("cursor")) return 0;
    const auto& cursor = params["cursor"];
    if (!cursor.is_string()) return std::nullopt;
    auto v = parse_size(cursor.get_ref<const std::string&>(), total);
    return v;
}

nlohmann::json ResourceCatalog::list(const jsonrpc::Message& m, const std::string& owner,
                                     size_t page_size) const {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& name : runner_.policies().names())
        all.push_back({{"uri", "tooljail://policies/" + name},
                       {"name", "policy " + name},
                       {"description",
                        "The sandbox policy '" + name + "' as loaded, every default filled in"},
                       {"mimeType", "application/json"}});
    for (const ToolDef* tool : tools_.enabled_tools())
        if (listed_(tool->name))
            all.push_back(
                {{"uri", "tooljail://tools/" + tool->name + "/policy"},
                 {"name", "policy of " + tool->name},
                 {"description",
                  "The policy tool '" + tool->name +
                      "' runs under, with its own tighter limits and the workspace applied"},
                 {"mimeType", "application/json"}});
    for (const auto& run : runner_.archive().list(owner)) {
        all.push_back({{"uri", "tooljail://runs/" + run->run_id},
                       {"name", "run " + run->run_id},
                       {"description", "Result summary of a " + run->tool + " run"},
                       {"mimeType", "application/json"}});
        for (const char* stream : {"stdout", "stderr"}) {
            const std::string& data = std::string_view(stream) == "stdout" ? run->out : run->err;
            all.push_back(
                {{"uri", run_output_uri(run->run_id, stream)},
                 {"name", std::string(stream) + " of run " + run->run_id},
                 {"description", "Captured " + std::string(stream) + " of a " + run->tool +
                                     " run; read ?offset=N&length=M for a page"},
                 {"mimeType", "text/plain"},
                 {"size", data.size()}});
        }
    }
    auto start = parse_cursor(m.params, all.size());
    if (!start) return jsonrpc::error(m.id, jsonrpc::kInvalidParams, "invalid cursor");
    size_t end = std::min(all.size(), *start + page_size);
    nlohmann::json page = nlohmann::json::array();
    for (size_t i = *start; i < end; ++i) page.push_back(all[i]);
    nlohmann::json result = {{"resources", page}};
    if (end < all.size()) result["nextCursor"] = std::to_string(end);
    return jsonrpc::result(m.id, result);
}

nlohmann::json ResourceCatalog::templates(const jsonrpc::Message& m) const {
    auto t = [](const char* uri, const char* name, const char* description, const char* mime) {
        return nlohmann::json{
            {"uriTemplate", uri}, {"name", name}, {"description", description}, {"mimeType", mime}};
    };
    nlohmann::json list = nlohmann::json::array({
        t("tooljail://runs/{run_id}/stdout{?offset,length}", "run stdout",
          "Captured standard output of a run whose result was truncated (run_id and the next "
          "offset are in the "
          "result); length at most 1048576, default 65536",
          "text/plain"),
        t("tooljail://runs/{run_id}/stderr{?offset,length}", "run stderr",
          "Captured standard error of a run, by page", "text/plain"),
        t("tooljail://runs/{run_id}", "run summary", "The result summary of a kept run",
          "application/json"),
        t("tooljail://policies/{name}", "policy", "A sandbox policy as loaded", "application/json"),
        t("tooljail://tools/{name}/policy", "tool policy", "The effective policy of a tool",
          "application/json"),
    });
    auto start = parse_cursor(m.params, list.size());
    if (!start) return jsonrpc::error(m.id, jsonrpc::kInvalidParams, "invalid cursor");
    nlohmann::json page = nlohmann::json::array();
    for (size_t i = *start; i < list.size(); ++i) page.push_back(list[i]);
    return jsonrpc::result(m.id, {{"resourceTemplates", page}});
}

nlohmann::json ResourceCatalog::read(const jsonrpc::Message& m, const std::string& owner,
                                     int not_found_code) const {
    if (!m.params.is_object() || !m.params.contains("uri") || !m.params["uri"].is_string())
        return jsonrpc::error(m.id, jsonrpc::kInvalidParams,
                              "resources/read needs params.uri (a string)");
    const std::string& uri = m.params["uri"].get_ref<const std::string&>();
    std::string shown = uri.size() > 160 ? uri.substr(0, 160) + "..." : uri;
    auto not_found = [&](const std::string& why) {
        return jsonrpc::error(m.id, not_found_code, "resource not found: " + why, {{"uri", shown}});
    };
    auto ref = parse_resource_uri(uri);
    if (!ref)
        return not_found(
            "not a tooljail resource URI (see resources/templates/list; offset and length are "
            "decimal, length 1..1048576)");
    if (ref->kind == "policy") {
        const Policy* p = runner_.policies().find(ref->name);
        if (!p) return not_found("no policy '" + ref->name + "'");
        return jsonrpc::result(m.id, json_contents(uri, policy_to_json(*p)));
    }
    if (ref->kind == "tool_policy") {
        const Policy* p = listed_(ref->name) ? runner_.effective_policy(ref->name) : nullptr;
        if (!p) return not_found("no tool '" + ref->name + "' that this client can list");
        nlohmann::json doc = policy_to_json(*p);
        doc["workspace"]["source"] = p->sandbox.workspace;
        return jsonrpc::result(m.id, json_contents(uri, doc));
    }
    auto run = runner_.archive().find(ref->name, owner);
    if (!run)
        return not_found("run '" + ref->name +
                         "' is not kept: only runs whose output was cut in the result are, the "
                         "most recent first, "
                         "and only for the client that made the call");
    if (ref->kind == "run") {
        nlohmann::json doc = run->summary;
        doc["tool"] = run->tool;
        doc["stdout_resource"] = run_output_uri(run->run_id, "stdout");
        doc["stderr_resource"] = run_output_uri(run->run_id, "stderr");
        return jsonrpc::result(m.id, json_contents(uri, doc));
    }
    const std::string& data = ref->stream == "stdout" ? run->out : run->err;
    if (ref->offset > data.size())
        return jsonrpc::error(m.id, jsonrpc::kInvalidParams,
                              "offset " + std::to_string(ref->offset) + " is beyond the " +
                                  std::to_string(data.size()) + " captured bytes",
                              {{"uri", shown}});
    return jsonrpc::result(m.id, output_page(uri, *run, *ref));
}

}  // namespace runtime
