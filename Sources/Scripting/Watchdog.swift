import Foundation

/// Enforces the limits of running Lua calls from one thread of its own.
///
/// A call registers when it starts and unregisters when it returns. Calls pay nothing for the
/// instruction budget until they have run for ``budgetDelay``: only then is the count hook armed
/// (an always-on count hook roughly doubles the cost of Lua loops). At the deadline the state is
/// flagged, the hook (and every bounded library function) raises from then on, and `onExpire`
/// tells the owner, which stops waiting. A call still registered `grace` after its deadline is
/// stuck somewhere nothing can interrupt; `onStuck` tells the owner once. Interrupts happen only
/// between `begin` and `end`, under the watchdog's lock, so the state is never touched after
/// `end` returns.
final class Watchdog: @unchecked Sendable {
    /// How long a call runs before its instruction budget starts being counted.
    static let budgetDelay: Duration = .milliseconds(1)

    /// One running call.
    final class Ticket {
        fileprivate let interrupt: LuaState.Interrupt
        fileprivate let start: ContinuousClock.Instant
        fileprivate let armAt: ContinuousClock.Instant?
        fileprivate let deadline: ContinuousClock.Instant
        fileprivate let stuckAt: ContinuousClock.Instant
        fileprivate let onExpire: (@Sendable (Duration) -> Void)?
        fileprivate let onStuck: (@Sendable (Duration) -> Void)?
        fileprivate var armed = false
        fileprivate var expired = false
        fileprivate var stuck = false

        fileprivate init(interrupt: LuaState.Interrupt, supervision: LuaState.Supervision, start: ContinuousClock.Instant) {
            self.interrupt = interrupt
            self.start = start
            self.armAt = interrupt.countsInstructions ? start + Watchdog.budgetDelay : nil
            self.deadline = start + supervision.timeout
            self.stuckAt = deadline + supervision.grace
            self.onExpire = supervision.onExpire
            self.onStuck = supervision.onStuck
        }

        /// The next moment the watchdog has something to do for this call.
        fileprivate var nextEvent: ContinuousClock.Instant? {
            if !expired {
                if !armed, let armAt, armAt < deadline { return armAt }
                return deadline
            }
            return stuck || onStuck == nil ? nil : stuckAt
        }
    }

    private let condition = NSCondition()
    private var tickets: [Ticket] = []
    private var thread: Thread?
    private var stopped = false
    /// When the watchdog thread is asleep: the moment it will wake by itself (`.some(nil)`: never).
    private var sleepingUntil: ContinuousClock.Instant??

    init() {}

    /// Registers a call on `interrupt`'s state bounded by `supervision`.
    func begin(_ interrupt: LuaState.Interrupt, supervision: LuaState.Supervision) -> Ticket {
        let ticket = Ticket(interrupt: interrupt, supervision: supervision, start: .now)
        condition.lock()
        defer { condition.unlock() }
        tickets.append(ticket)
        if thread == nil, !stopped {
            let thread = Thread { [self] in loop() }
            thread.name = "sandman-lua-watchdog"
            thread.start()
            self.thread = thread
        }
        if let sleepingUntil, let event = ticket.nextEvent, sleepingUntil.map({ event < $0 }) ?? true {
            condition.signal()
        }
        return ticket
    }

    /// Unregisters a call and returns how long it ran; after this the watchdog no longer touches
    /// its state.
    @discardableResult
    func end(_ ticket: Ticket) -> Duration {
        condition.lock()
        defer { condition.unlock() }
        if let index = tickets.firstIndex(where: { $0 === ticket }) {
            tickets.remove(at: index)
        }
        return .now - ticket.start
    }

    /// Ends the watchdog thread. Calls still registered are no longer supervised.
    func shutdown() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while !stopped {
            let now = ContinuousClock.now
            var next: ContinuousClock.Instant?
            var reports: [@Sendable () -> Void] = []
            for ticket in tickets {
                if !ticket.expired, now >= ticket.deadline {
                    ticket.expired = true
                    ticket.interrupt.expire()
                    if let onExpire = ticket.onExpire {
                        let elapsed = now - ticket.start
                        reports.append { onExpire(elapsed) }
                    }
                } else if ticket.expired, !ticket.stuck, now >= ticket.stuckAt, let onStuck = ticket.onStuck {
                    ticket.stuck = true
                    let elapsed = now - ticket.start
                    reports.append { onStuck(elapsed) }
                } else if !ticket.armed, !ticket.expired, let armAt = ticket.armAt, now >= armAt {
                    ticket.armed = true
                    ticket.interrupt.armInstructionBudget()
                }
                if let event = ticket.nextEvent, next.map({ event < $0 }) ?? true {
                    next = event
                }
            }
            if !reports.isEmpty {
                condition.unlock()
                for report in reports { report() }
                condition.lock()
                continue
            }
            sleepingUntil = .some(next)
            if let next {
                _ = condition.wait(until: Date(timeIntervalSinceNow: max((next - now).timeInterval, 0)))
            } else {
                condition.wait()
            }
            sleepingUntil = nil
        }
        thread = nil
        condition.unlock()
    }
}
