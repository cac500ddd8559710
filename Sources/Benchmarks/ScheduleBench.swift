import ArgumentParser
import Foundation
import Scheduling

struct ScheduleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "schedule", abstract: "Schedule maths: next transitions and plans per second.")

    func run() async throws {
        let schedule = try SleepSchedule(weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: "Europe/Rome")
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        var count = 0
        var start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(2) {
            for offset in 0..<1000 { count += schedule.transitions(after: base.addingTimeInterval(Double(offset * 3607)), count: 1).count }
        }
        report("schedule next transition", String(format: "%.0f per second", Double(count) / seconds(ContinuousClock.now - start)))
        count = 0
        start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(2) {
            for offset in 0..<1000 {
                let plan = SchedulePlanner.plan(PlanInput(schedule: schedule, memory: ScheduleMemory(lastTransition: base), isAsleep: offset % 2 == 0, now: base.addingTimeInterval(Double(offset * 3607))))
                if plan.nextCheck != nil { count += 1 }
            }
        }
        report("schedule plan (one namespace)", String(format: "%.0f per second", Double(count) / seconds(ContinuousClock.now - start)))
    }
}
