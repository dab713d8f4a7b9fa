#include "runtime/mcp/run_archive.h"

namespace runtime {

std::string run_output_uri(const std::string& run_id, const char* stream) {
    return "tooljail://runs/" + run_id + "/" + stream;
}

bool RunArchive::add(ArchivedRun run) {
    if (limits_.max_runs == 0 || run.bytes() > limits_.max_bytes) return false;
    auto entry = std::make_shared<const ArchivedRun>(std::move(run));
    std::lock_guard lock(mu_);
    while (!runs_.empty() &&
           (runs_.size() >= limits_.max_runs || bytes_ + entry->bytes() > limits_.max_bytes)) {
        bytes_ -= runs_.front()->bytes();
        runs_.pop_front();
    }
    bytes_ += entry->bytes();
    runs_.push_back(std::move(entry));
    return true;
}

std::shared_ptr<const ArchivedRun> RunArchive::find(const std::string& run_id,
                                                    const std::string& owner) const {
    std::lock_guard lock(mu_);
    for (const auto& run : runs_)
        if (run->run_id == run_id) return run->owner == owner ? run : nullptr;
    return nullptr;
}

std::vector<std::shared_ptr<const ArchivedRun>> RunArchive::list(const std::string& owner) const {
    std::vector<std::shared_ptr<const ArchivedRun>> out;
    std::lock_guard lock(mu_);
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it)
        if ((*it)->owner == owner) out.push_back(*it);
    return out;
}

}  // namespace runtime
