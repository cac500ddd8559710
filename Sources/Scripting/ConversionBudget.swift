/// What one conversion of a value between Lua and JSON may still use: a number of values, an
/// estimate of the bytes they take, and the call's deadline.
///
/// Every value converted costs one element and an estimate of its memory, the same in both
/// directions (close to what Lua 5.4 allocates, and above what a `JSONValue` takes): a slot for
/// each value, a header and the text for each string, a header for each table and a node and a
/// key for each object member. A table met again somewhere else in the value is converted once
/// but costs what it holds each time it appears, so a small table referenced a million times is
/// refused quickly rather than converted a million times. Every ``checkInterval`` elements the
/// budget asks whether the call's deadline has passed.
struct ConversionBudget {
    /// What tells a conversion that its call's deadline has passed (the state's ``LuaState/Interrupt``).
    protocol Deadline: AnyObject {
        var hasPassed: Bool { get }
    }

    /// Tables nested deeper than this are refused in both directions.
    static let maximumDepth = 100
    /// Values in one converted value, counting a shared table each time it appears.
    static let maximumElements = 1 << 20
    static let checkInterval = 1024

    /// Estimated bytes: a value's slot; a string's header (plus its text); a table's header; an
    /// object member's hash node and key string header (plus the key's text).
    static let slotBytes = 16
    static let stringBytes = 40
    static let tableBytes = 72
    static let memberBytes = 56

    /// What was spent so far.
    private(set) var elements = 0
    private(set) var bytes = 0
    /// The bytes the value may take: what the state's memory cap leaves.
    let byteLimit: Int
    private let deadline: any Deadline
    private var untilCheck = checkInterval

    init(byteLimit: Int, deadline: any Deadline) {
        self.byteLimit = byteLimit
        self.deadline = deadline
    }

    /// Spends `elements` values of `bytes` bytes in all, or throws why that is too much.
    mutating func spend(elements count: Int, bytes size: Int) throws(LuaState.ConversionError) {
        elements += count
        bytes += size
        guard elements <= Self.maximumElements else {
            throw .init(reason: "more than \(Self.maximumElements) values (a table counts each time it appears)")
        }
        guard bytes <= byteLimit else {
            throw .init(reason: "about \(bytes) bytes, more than the \(byteLimit) bytes the memory limit leaves")
        }
        untilCheck -= count
        if untilCheck <= 0 {
            untilCheck = Self.checkInterval
            if deadline.hasPassed { throw .init(reason: "time limit exceeded") }
        }
    }

    /// A boolean, number, null or empty-array marker.
    mutating func spendScalar() throws(LuaState.ConversionError) {
        try spend(elements: 1, bytes: Self.slotBytes)
    }

    mutating func spendString(length: Int) throws(LuaState.ConversionError) {
        try spend(elements: 1, bytes: Self.slotBytes + Self.stringBytes + length)
    }

    /// A table; its items and members are spent separately.
    mutating func spendTable() throws(LuaState.ConversionError) {
        try spend(elements: 1, bytes: Self.slotBytes + Self.tableBytes)
    }

    /// The key and node of an object member; its value is spent separately.
    mutating func spendMember(keyLength: Int) throws(LuaState.ConversionError) {
        try spend(elements: 0, bytes: Self.memberBytes + keyLength)
    }

    /// The depth check both directions share.
    static func checkDepth(_ depth: Int) throws(LuaState.ConversionError) {
        guard depth < maximumDepth else { throw .init(reason: "nested deeper than \(maximumDepth) levels") }
    }
}
