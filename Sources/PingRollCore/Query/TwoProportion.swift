/// The two-proportion z-test: whether x1/n1 and x2/n2 differ at 95 % (two-sided).
public enum TwoProportion {
    public static func z(_ x1: Int64, _ n1: Int64, _ x2: Int64, _ n2: Int64) -> Double? {
        guard n1 > 0, n2 > 0 else { return nil }
        let p1 = Double(x1) / Double(n1), p2 = Double(x2) / Double(n2), pooled = Double(x1 &+ x2) / Double(n1 &+ n2)
        let se = (pooled * (1 - pooled) * (1 / Double(n1) + 1 / Double(n2))).squareRoot()
        guard se > 0 else { return nil }
        return (p1 - p2) / se
    }

    public static func significant(_ x1: Int64, _ n1: Int64, _ x2: Int64, _ n2: Int64) -> Bool {
        guard let z = z(x1, n1, x2, n2) else { return false }
        return abs(z) > Wilson.z95
    }
}
