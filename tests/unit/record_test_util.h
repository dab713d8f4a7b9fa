// Shared helpers for the record store tests: a temporary store directory, a quick way to record
// complete runs, and raw access to journal segments for tampering.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/records/record_store.h"

namespace rectest {

class TempStore {
public:
    TempStore() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "tooljail-records-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        root_ = tmpl;
        dir_ = root_ + "/store";
    }
    ~TempStore() {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
    TempStore(const TempStore&) = delete;
    TempStore& operator=(const TempStore&) = delete;
    const std::string& dir() const { return dir_; }
    std::string segment(int n) const { return dir_ + "/journal-" + std::to_string(n) + ".jsonl"; }

private:
    std::string root_;
    std::string dir_;
};

inline std::unique_ptr<runtime::RecordStore> open_store(
    const std::string& dir, std::optional<runtime::Retention> retention = std::nullopt) {
    runtime::RecordOptions o;
    o.dir = dir;
    o.retention = retention;
    auto s = runtime::RecordStore::open(o);
    INFO((s ? std::string() : s.error().message()));
    REQUIRE(s);
    return std::move(*s);
}

inline runtime::records::RunStart sample_start(const std::string& label = "sample") {
    runtime::records::RunStart r;
    r.argv = {"/bin/echo", label};
    r.policy = "default";
    r.client.transport = "cli";
    return r;
}

inline sandbox::Outcome sample_outcome(const std::string& out = "hello\n", int exit_code = 0) {
    sandbox::Outcome o;
    o.reason = sandbox::Termination::Exit;
    o.exit_code = exit_code;
    o.out.data = out;
    o.out.total = out.size();
    o.wall = sandbox::Millis{3};
    return o;
}

// start + finish; returns the run id.
inline std::string record_run(runtime::RecordStore& store, const std::string& out = "hello\n") {
    auto started = store.start(sample_start(out));
    INFO((started ? std::string() : started.error().message()));
    REQUIRE(started);
    auto finished = store.finish(started->run_id, sample_outcome(out));
    INFO((finished ? std::string() : finished.error().message()));
    REQUIRE(finished);
    return started->run_id;
}

inline std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

inline void write_lines(const std::string& path, const std::vector<std::string>& lines) {
    std::ofstream out(path, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
}

inline std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace rectest
