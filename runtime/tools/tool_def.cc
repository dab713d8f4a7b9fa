#include "runtime/tools/tool_def.h"

#include <algorithm>

namespace runtime {

using nlohmann::json;
using Kind = ArgumentRule::Kind;

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::String: return "string";
        case Kind::Path: return "path";
        case Kind::Integer: return "integer";
        case Kind::Boolean: return "boolean";
    }
    return "?";
}

json ToolDef::to_mcp() const {
    json j = {{"name", name}, {"title", title}, {"description", description}};
    j["inputSchema"] =
        input ? input->schema() : json{{"type", "object"}, {"additionalProperties", false}};
    if (!output_schema.is_null()) j["outputSchema"] = output_schema;
    j["annotations"] = annotations;
    return j;
}

bool valid_tool_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

}  // namespace runtime
