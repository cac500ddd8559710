import Foundation

/// Enforces the limits of running Lua calls from one thread of its own.
///
/// A call registers when it starts and unregisters when it returns. Calls pay nothing for the
/// instruction budget until they have run for ``budgetDelay``: only then is the count hook armed
/// (an always-on count hook roughly doubles the cost of Lua loops). At the deadline the state is
/// flagged, the hook raises on every instruction from then on, and `onExpire` tells the owner,
/// which stops waiting. Interrupts happen only between `begin` and `end`, under the watchdog's
/// lock, so the state is never touched after `end` returns.
final class Watchdog: @unchecked Sendable {
    /// How long a call runs before its instruction budget starts being counted.
    static let budgetDelay: Duration = .milliseconds(1)

    /// One running call.
    final class Ticket {
        fileprivate let interrupt: LuaState.Interrupt
        fileprivate let armAt: ContinuousClock.Instant?
        fileprivate let deadline: ContinuousClock.Instant
        fileprivate let onExpire: (@Sendable () -> Void)?
        fileprivate var armed = false
        fileprivate var expired = false

        fileprivate init(interrupt: LuaState.Interrupt, armAt: ContinuousClock.Instant?, deadline: ContinuousClock.Instant, onExpire: (@Sendable () -> Void)?) {
            self.interrupt = interrupt
            self.armAt = armAt
            self.deadline = deadline
            self.onExpire = onExpire
        }

        /// The next moment the watchdog has something to do for this call.
        fileprivate var nextEvent: ContinuousClock.Instant? {
            if expired { return nil }
            if !armed, let armAt, armAt < deadline { return armAt }
            return deadline
        }
    }

    private let condition = NSCondition()
    private var tickets: [Ticket] = []
    private var thread: Thread?
    private var stopped = false
    /// When the watchdog thread is asleep: the moment it will wake by itself (`.some(nil)`: never).
    private var sleepingUntil: ContinuousClock.Instant??

    init() {}

    /// Registers a call on `interrupt`'s state that must end within `timeout`.
    func begin(_ interrupt: LuaState.Interrupt, timeout: Duration, onExpire: (@Sendable () -> Void)?) -> Ticket {
        let now = ContinuousClock.now
        let ticket = Ticket(
            interrupt: interrupt,
            armAt: interrupt.countsInstructions ? now + Self.budgetDelay : nil,
            deadline: now + timeout,
            onExpire: onExpire
        )
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

    /// Unregisters a call; after this the watchdog no longer touches its state.
    func end(_ ticket: Ticket) {
        condition.lock()
        defer { condition.unlock() }
        if let index = tickets.firstIndex(where: { $0 === ticket }) {
            tickets.remove(at: index)
        }
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
            var expirations: [@Sendable () -> Void] = []
            for ticket in tickets {
                if !ticket.expired, now >= ticket.deadline {
                    ticket.expired = true
                    ticket.interrupt.expire()
                    if let onExpire = ticket.onExpire { expirations.append(onExpire) }
                } else if !ticket.armed, !ticket.expired, let armAt = ticket.armAt, now >= armAt {
                    ticket.armed = true
                    ticket.interrupt.armInstructionBudget()
                }
                if let event = ticket.nextEvent, next.map({ event < $0 }) ?? true {
                    next = event
                }
            }
            if !expirations.isEmpty {
                condition.unlock()
                for onExpire in expirations { onExpire() }
                condition.lock()
                continue
            }
            sleepingUntil = .some(next)
            if let next {
                let seconds = Double((next - now).components.attoseconds) / 1e18 + Double((next - now).components.seconds)
                _ = condition.wait(until: Date(timeIntervalSinceNow: max(seconds, 0)))
            } else {
                condition.wait()
            }
            sleepingUntil = nil
        }
        thread = nil
        condition.unlock()
    }
}
