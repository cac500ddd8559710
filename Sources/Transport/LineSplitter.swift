import Foundation

/// Cuts a byte stream into lines, keeping the unfinished tail between chunks.
struct LineSplitter {
    private var pending = Data()

    /// The complete lines in `chunk` (joined to what came before), without `\n` or `\r\n`.
    mutating func feed(_ chunk: UnsafeRawBufferPointer) -> [Data] {
        var lines: [Data] = []
        var start = 0
        for (index, byte) in chunk.enumerated() where byte == 0x0A {
            pending.append(contentsOf: chunk[start..<index])
            lines.append(Self.trimmingCarriageReturn(pending))
            pending = Data()
            start = index + 1
        }
        pending.append(contentsOf: chunk[start...])
        return lines
    }

    /// The last line when the stream ended without a newline.
    mutating func finish() -> Data? {
        defer { pending = Data() }
        return pending.isEmpty ? nil : Self.trimmingCarriageReturn(pending)
    }

    private static func trimmingCarriageReturn(_ line: Data) -> Data {
        line.last == 0x0D ? line.dropLast() : line
    }
}
