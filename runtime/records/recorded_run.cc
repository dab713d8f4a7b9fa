#include "runtime/records/recorded_run.h"

#include "runtime/base/log.h"
#include "sandbox/base/sha256.h"

namespace runtime {

RecordedRun run_recorded(const sandbox::Sandbox& sandbox, sandbox::RunRequest request,
                         records::RunStart record, const RunRecording& recording,
                         const RunHooks& hooks, const std::string& label) {
    RecordedRun result;
    std::optional<RecordStore::Started> started;
    if (recording.store) {
        record.argv = request.argv;
        record.env = sandbox.config().env;
        record.layers = sandbox.layers();
        record.limits = sandbox.config().limits;
        if (request.stdin_data) {
            record.stdin_bytes = request.stdin_data->size();
            record.stdin_sha256 = sandbox::sha256_hex(*request.stdin_data);
        }
        auto s = recording.store->start(record);
        if (s) {
            started = std::move(*s);
            request.run_id = started->run_id;
            result.trace_id = started->trace_id;
        } else if (!recording.fail_open) {
            // Fail closed: no run without its record.
            result.refused = std::move(s).error();
            return result;
        } else if (hooks.on_unrecorded) {
            hooks.on_unrecorded(s.error());
        }
    }
    result.run_id = request.run_id;

    auto run = sandbox.launch(request);
    if (!run) {
        result.outcome = sandbox::launch_failure(run.error());
    } else {
        result.launched = true;
        result.warm = (*run)->warm();
        result.run_id = (*run)->id();
        if (hooks.on_launched) hooks.on_launched(**run);
        result.outcome = (*run)->wait(hooks.cancel_fd, hooks.on_output, hooks.on_tick);
        if (hooks.amend) hooks.amend(result.outcome);
    }
    if (started) {
        if (auto f = recording.store->finish(started->run_id, result.outcome); !f)
            result.unfinished = std::move(f).error();
    }
    const sandbox::Outcome& o = result.outcome;
    LOG_INFO("{} run_id={} warm={} reason={} exit={} wall_ms={} stdout_bytes={} stderr_bytes={}",
             label, result.run_id, result.warm, sandbox::termination_name(o.reason), o.exit_code,
             o.wall.count(), o.out.total, o.err.total);
    return result;
}

}  // namespace runtime
