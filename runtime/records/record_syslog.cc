// syslog(3) forwarding of record summaries. Its own file: <syslog.h> defines LOG_INFO and
// LOG_DEBUG as priorities, which collide with runtime/base/log.h's macros.
#include <syslog.h>

#include <string>

namespace runtime {

// LOG_AUTHPRIV: records are security audit data; rsyslog and journald keep that facility out of
// world-readable logs.
void open_record_syslog() { ::openlog("tooljail", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV); }

void send_record_syslog(const std::string& line) { ::syslog(LOG_NOTICE, "%s", line.c_str()); }

}  // namespace runtime
