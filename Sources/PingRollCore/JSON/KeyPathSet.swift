/// A set of dotted key paths (`container_registry_server.db_enabled`) compiled into a trie the
/// scanner walks while it reads object keys.
///
/// Paths address object members only; array elements are never descended into. Each path gets
/// the index it had in the initialiser's list, which is where its value lands in a scan result.
public struct KeyPathSet: Sendable {
    struct Node: Sendable {
        var children: [(key: [UInt8], node: Int32)] = []
        var target: Int32 = -1
        /// Targets strictly below this node: a repeated key's later value replaces them all.
        var descendantTargets: [Int32] = []
    }

    private(set) var nodes: [Node] = [Node()]
    public let paths: [String]

    public init(_ paths: [String]) {
        self.paths = paths
        for (index, path) in paths.enumerated() {
            var node = 0
            for segment in path.split(separator: ".", omittingEmptySubsequences: false) {
                let key = Array(segment.utf8)
                if let existing = nodes[node].children.first(where: { $0.key == key }) {
                    node = Int(existing.node)
                } else {
                    nodes.append(Node())
                    nodes[node].children.append((key, Int32(nodes.count - 1)))
                    node = nodes.count - 1
                }
            }
            nodes[node].target = Int32(index)
        }
        // Children are always created after their parents, so one backward pass collects subtrees.
        for node in nodes.indices.reversed() {
            for child in nodes[node].children {
                let c = Int(child.node)
                nodes[node].descendantTargets += nodes[c].descendantTargets
                if nodes[c].target >= 0 { nodes[node].descendantTargets.append(nodes[c].target) }
            }
        }
    }

    public func index(of path: String) -> Int? { paths.firstIndex(of: path) }

    /// The child of `node` reached through `key`, or -1.
    @inline(__always)
    func child(of node: Int32, key: UnsafeRawBufferPointer) -> Int32 {
        for entry in nodes[Int(node)].children where entry.key.count == key.count {
            if entry.key.withUnsafeBytes({ $0.elementsEqual(key) }) { return entry.node }
        }
        return -1
    }

    @inline(__always)
    func target(of node: Int32) -> Int32 { node < 0 ? -1 : nodes[Int(node)].target }

    /// The targets below `node` (none for -1).
    @inline(__always)
    func descendantTargets(of node: Int32) -> [Int32] { node <= 0 ? [] : nodes[Int(node)].descendantTargets }
}
