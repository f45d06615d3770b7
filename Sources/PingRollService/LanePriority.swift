import Glibc

/// CPU priority of the lanes. On a small machine a long job and the ingest lane compete for the
/// same cores; the threads of long work (the job lane, the API lane, a CLI rebuild) run at a
/// higher nice value, so that the kernel gives ingest the CPU first and long work what is left.
public enum LanePriority {
    /// The job lane and long CLI commands (rebuild, verify, retention, recompress).
    public static let longWork: Int32 = 10
    /// The API lane (dashboard views, exports): after ingest, before long work.
    public static let api: Int32 = 5

    /// Sets the calling thread's nice value: on Linux `setpriority(PRIO_PROCESS, 0, …)` names
    /// the calling thread, not the whole process. A failure changes nothing.
    public static func lowerCurrentThread(to nice: Int32) {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
    }

    /// The calling thread's nice value.
    public static func currentThreadNice() -> Int32 {
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    }
}
