import Foundation

/// GitLab-shaped pings for end-to-end tests, padded with `counts.*` metrics to a target size.
enum Pings {
    static func make(uuid: String = UUID().uuidString.lowercased(), hostname: String = "gitlab.example.com",
                     recordedAt: String = "2024-01-15T10:00:00Z", approximateBytes: Int = 2_000) -> String {
        var counts: [String] = []
        var size = 0
        var i = 0
        while size < approximateBytes {
            let metric = "\"ci_pipeline_metric_\(i)\":\(i * 7919 % 100_000)"
            counts.append(metric)
            size += metric.utf8.count + 1
            i += 1
        }
        return """
            {"recorded_at":"\(recordedAt)","uuid":"\(uuid)","hostname":"\(hostname)","version":"16.5.1-ee",\
            "installation_type":"omnibus-gitlab","active_user_count":120,"edition":"EEP",\
            "container_registry_enabled":true,\
            "container_registry_server":{"vendor":"gitlab","version":"3.85.0-gitlab","db_enabled":true},\
            "database":{"adapter":"postgresql","version":"14.9","flavor":"PostgreSQL"},\
            "counts":{\(counts.joined(separator: ","))},\
            "topology":{"nodes":[{"node_cpus":8,"node_services":[{"name":"registry","process_count":1}]}]}}
            """
    }
}
