import Foundation
import Testing
import TestSupport
@testable import Store

/// Dates as the SQLite columns hold them, written by hand and read back.
struct SQLiteDateTextTests {
    @Test(arguments: [
        (0.0, "1970-01-01 00:00:00.000"),
        (1_796_320_202.5, "2026-12-03 17:50:02.500"),
        (951_782_400.007, "2000-02-29 00:00:00.007"),
        (-1.25, "1969-12-31 23:59:58.750"),
        (Date.distantFuture.timeIntervalSince1970, "4001-01-01 00:00:00.000"),
    ])
    func aDateIsWrittenInUTCWithMilliseconds(seconds: Double, text: String) {
        #expect(SQLiteDateText.string(from: Date(timeIntervalSince1970: seconds)) == text)
        #expect(SQLiteDateText.date(from: text) == Date(timeIntervalSince1970: seconds))
    }

    @Test func anyMillisecondReadsBackAsItWasWritten() {
        var generator = SeededGenerator()
        for _ in 0..<2_000 {
            let milliseconds = Int64.random(in: -2_000_000_000_000...32_000_000_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            let text = SQLiteDateText.string(from: date)
            #expect(text.utf8.count == 23, "\(text), seed \(generator.seed)")
            #expect(SQLiteDateText.date(from: text).map(SQLValue.milliseconds) == milliseconds, "\(text), seed \(generator.seed)")
        }
    }
}
