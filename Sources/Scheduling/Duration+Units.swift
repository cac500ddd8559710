extension Duration {
    public static func minutes(_ minutes: Int64) -> Duration { .seconds(minutes * 60) }
    public static func hours(_ hours: Int64) -> Duration { .seconds(hours * 3600) }
    public static func days(_ days: Int64) -> Duration { .seconds(days * 86_400) }

    /// The duration in seconds as a floating-point number.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
