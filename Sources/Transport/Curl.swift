// The only file that touches libcurl: easy handles (one per transfer) and the multi handle with
// the thread that drives it.
import CCurl
import Foundation
import Synchronization

private let curlGlobalInit: Void = {
    curl_global_init(Int(CURL_GLOBAL_ALL))
}()

/// One request on its way through libcurl. Created on the caller's task, then owned by the loop
/// thread from `submit` on; `finished` guarantees a single answer.
final class CurlTransfer: @unchecked Sendable {
    typealias Head = (status: Int, headers: HTTPHeaders)

    let method: HTTPMethod
    let url: String
    let streaming: Bool
    fileprivate let easy: UnsafeMutableRawPointer
    private var requestHeaders: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// Set before `submit`; called once on the loop thread (buffered transfers).
    var onResponse: ((Result<HTTPResponse, any Error>) -> Void)?
    /// Set before `submit`; called once when the head arrives or the transfer fails first (streams).
    var onHead: ((Result<Head, any Error>) -> Void)?
    var lineSink: AsyncThrowingStream<Data, any Error>.Continuation?

    /// Guarded by the loop's lock.
    fileprivate var cancelRequested = false
    private var finished = false
    private var headDelivered = false
    private var headers = HTTPHeaders()
    private var body = Data()
    private var splitter = LineSplitter()

    init(request: HTTPRequest, configuration: HTTPClient.Configuration, streaming: Bool) throws {
        _ = curlGlobalInit
        self.method = request.method
        self.url = request.url
        self.streaming = streaming
        guard let easy = curl_easy_init() else {
            throw TransportError(reason: .other, method: request.method, url: request.url, detail: "curl_easy_init failed")
        }
        self.easy = easy
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        try configure(request: request, configuration: configuration)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(requestHeaders)
        errorBuffer.deallocate()
    }

    private func invalid(_ detail: String) -> TransportError {
        TransportError(reason: .invalidRequest, method: method, url: url, detail: detail)
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(sandman_curl_setopt_long(easy, option, value), option)
    }

    private func set(_ option: CURLoption, _ value: String) throws {
        try check(sandman_curl_setopt_string(easy, option, value), option)
    }

    private func set(_ option: CURLoption, blob: Data) throws {
        let code = blob.withUnsafeBytes { sandman_curl_setopt_blob(easy, option, $0.baseAddress, $0.count) }
        try check(code, option)
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws {
        guard code == CURLE_OK else {
            throw invalid("libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    private func configure(request: HTTPRequest, configuration: HTTPClient.Configuration) throws {
        guard let components = URLComponents(string: request.url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { throw invalid("not an absolute http or https URL") }

        let tls = configuration.tls
        if let serverName = tls.serverName, scheme == "https", serverName != host {
            // Address the server by the name its certificate carries and connect to the real host:
            // curl then sends that name as SNI and verifies the certificate against it.
            let port = components.port ?? 443
            var renamed = components
            renamed.host = serverName
            guard let renamedURL = renamed.string else { throw invalid("cannot apply TLS server name \(serverName)") }
            try set(CURLOPT_URL, renamedURL)
            let bracketed = host.contains(":") ? "[\(host)]" : host
            let connectTo = curl_slist_append(nil, "\(serverName):\(port):\(bracketed):\(port)")
            connectToList = connectTo
            try check(sandman_curl_setopt_slist(easy, CURLOPT_CONNECT_TO, connectTo), CURLOPT_CONNECT_TO)
        } else {
            try set(CURLOPT_URL, request.url)
        }

        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_USERAGENT, configuration.userAgent)
        try set(CURLOPT_ACCEPT_ENCODING, "")
        try set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        try set(CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.wholeMilliseconds)
        let timeout = request.timeout ?? (streaming ? .zero : configuration.timeout)
        try set(CURLOPT_TIMEOUT_MS, timeout.wholeMilliseconds)
        try check(sandman_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), CURLOPT_ERRORBUFFER)

        if let proxy = configuration.proxy {
            try set(CURLOPT_PROXY, proxy)
        }

        try set(CURLOPT_SSL_VERIFYPEER, tls.verifyPeer ? 1 : 0)
        try set(CURLOPT_SSL_VERIFYHOST, tls.verifyPeer ? 2 : 0)
        if let roots = tls.trustRoots { try set(CURLOPT_CAINFO_BLOB, blob: roots) }
        if let certificate = tls.clientCertificate {
            try set(CURLOPT_SSLCERTTYPE, "PEM")
            try set(CURLOPT_SSLCERT_BLOB, blob: certificate)
        }
        if let key = tls.clientKey {
            try set(CURLOPT_SSLKEYTYPE, "PEM")
            try set(CURLOPT_SSLKEY_BLOB, blob: key)
        }

        switch request.method {
        case .get: try set(CURLOPT_HTTPGET, 1)
        case .head: try set(CURLOPT_NOBODY, 1)
        default: try set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }
        if let body = request.body {
            try check(sandman_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), CURLOPT_POSTFIELDSIZE_LARGE)
            let code = body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies exactly POSTFIELDSIZE bytes; an empty body still needs a valid pointer.
                sandman_curl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(errorBuffer)))
            }
            try check(code, CURLOPT_COPYPOSTFIELDS)
        }

        var list: UnsafeMutablePointer<curl_slist>? = nil
        for field in request.headers {
            guard !field.name.unicodeScalars.contains(where: { $0 == ":" || $0 == "\r" || $0 == "\n" }),
                  !field.value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" })
            else { throw invalid("header \(field.name) contains a line break or colon") }
            list = curl_slist_append(list, "\(field.name): \(field.value)")
        }
        // curl would otherwise wait for "100 Continue" before sending larger bodies.
        list = curl_slist_append(list, "Expect:")
        requestHeaders = list
        try check(sandman_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, list), CURLOPT_HTTPHEADER)

        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(sandman_curl_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, curlWrite), CURLOPT_WRITEFUNCTION)
        try check(sandman_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, me), CURLOPT_WRITEDATA)
        try check(sandman_curl_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, curlHeader), CURLOPT_HEADERFUNCTION)
        try check(sandman_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, me), CURLOPT_HEADERDATA)
    }

    private var connectToList: UnsafeMutablePointer<curl_slist>? {
        didSet { if let oldValue { curl_slist_free_all(oldValue) } }
    }

    private var status: Int {
        var code = 0
        _ = sandman_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    // MARK: Callbacks, on the loop thread

    fileprivate func receivedHeaderLine(_ line: String) {
        let trimmed = line.trimmingASCIISpace()
        if trimmed.isEmpty {
            if streaming, !headDelivered, status >= 200 {
                headDelivered = true
                onHead?(.success((status, headers)))
            }
        } else if trimmed.hasPrefix("HTTP/") {
            headers = HTTPHeaders()   // a new response: 1xx interim answers are dropped
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = String(trimmed[..<colon])
            let value = trimmed[trimmed.index(after: colon)...].trimmingASCIISpace()
            headers.add(name, value)
        }
    }

    fileprivate func receivedBody(_ chunk: UnsafeRawBufferPointer) {
        if streaming {
            for line in splitter.feed(chunk) { lineSink?.yield(line) }
        } else {
            body.append(contentsOf: chunk)
        }
    }

    /// Delivers the outcome exactly once.
    fileprivate func finish(_ result: Result<Void, TransportError>) {
        guard !finished else { return }
        finished = true
        switch (result, streaming) {
        case (.success, false):
            onResponse?(.success(HTTPResponse(status: status, headers: headers, body: body)))
        case (.failure(let error), false):
            onResponse?(.failure(error))
        case (.success, true):
            if !headDelivered { headDelivered = true; onHead?(.success((status, headers))) }
            if let last = splitter.finish() { lineSink?.yield(last) }
            lineSink?.finish()
        case (.failure(let error), true):
            if !headDelivered { headDelivered = true; onHead?(.failure(error)) }
            lineSink?.finish(throwing: error)
        }
        onResponse = nil
        onHead = nil
        lineSink = nil
    }

    fileprivate func failure(_ code: CURLcode) -> TransportError {
        let detail = errorBuffer.pointee == 0 ? String(cString: curl_easy_strerror(code)) : String(cString: errorBuffer)
        return TransportError(reason: Self.reason(for: code), method: method, url: url, detail: detail)
    }

    private static func reason(for code: CURLcode) -> TransportError.Reason {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST: .dns
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_PROXY: .proxy
        case CURLE_COULDNT_CONNECT: .connect
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ISSUER_ERROR,
             CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT:
            .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            .connectionLost
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: .invalidRequest
        default: .other
        }
    }
}

private let curlWrite: sandman_curl_data_callback = { data, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    transfer.receivedBody(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

private let curlHeader: sandman_curl_data_callback = { data, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
    transfer.receivedHeaderLine(String(decoding: bytes, as: UTF8.self))
    return size * count
}

/// A libcurl multi handle and the thread that drives it. Transfers are handed over through a
/// lock-protected inbox and `curl_multi_wakeup`; everything else happens on the thread.
/// `multi` is used only on the loop thread, except `curl_multi_wakeup`, which libcurl allows from
/// any thread and which runs under the lock.
final class CurlLoop: @unchecked Sendable {
    private struct Inbox {
        var submitted: [CurlTransfer] = []
        var cancelled: [CurlTransfer] = []
        var stopping = false
        var stopped = false
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())

    init(maxConnectionsPerHost: Int) {
        _ = curlGlobalInit
        multi = curl_multi_init()
        _ = sandman_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, maxConnectionsPerHost))
        _ = sandman_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(32, 4 * maxConnectionsPerHost))
        let thread = Thread { [self] in run() }
        thread.name = "sandman.curl"
        thread.start()
    }

    func submit(_ transfer: CurlTransfer) {
        let refusal: TransportError.Reason? = inbox.withLock { inbox in
            if inbox.stopping { return .shutdown }
            if transfer.cancelRequested { return .cancelled }
            inbox.submitted.append(transfer)
            wake(inbox)
            return nil
        }
        if let refusal {
            transfer.finish(.failure(TransportError(reason: refusal, method: transfer.method, url: transfer.url, detail: "request not sent")))
        }
    }

    func cancel(_ transfer: CurlTransfer) {
        inbox.withLock { inbox in
            transfer.cancelRequested = true
            inbox.cancelled.append(transfer)
            wake(inbox)
        }
    }

    func shutdown() {
        inbox.withLock { inbox in
            inbox.stopping = true
            wake(inbox)
        }
    }

    /// Interrupts `curl_multi_poll`. Called with the lock held, so the handle cannot be cleaned
    /// up meanwhile.
    private func wake(_ inbox: borrowing Inbox) {
        if !inbox.stopped { curl_multi_wakeup(multi) }
    }

    private func run() {
        var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        while true {
            let (submitted, cancelled, stopping) = inbox.withLock { inbox in
                defer { inbox.submitted = []; inbox.cancelled = [] }
                return (inbox.submitted, inbox.cancelled, inbox.stopping)
            }
            for transfer in submitted {
                active[transfer.easy] = transfer
                curl_multi_add_handle(multi, transfer.easy)
            }
            for transfer in cancelled where active[transfer.easy] === transfer {
                remove(transfer, from: &active, with: .cancelled)
            }
            if stopping {
                for transfer in active.values { remove(transfer, from: &active, with: .shutdown) }
                break
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var code = CURLE_OK
            while let easy = sandman_curl_multi_next_done(multi, &code) {
                guard let transfer = active.removeValue(forKey: easy) else { continue }
                curl_multi_remove_handle(multi, easy)
                transfer.finish(code == CURLE_OK ? .success(()) : .failure(transfer.failure(code)))
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        inbox.withLock { inbox in
            inbox.stopped = true
            curl_multi_cleanup(multi)
        }
    }

    private func remove(_ transfer: CurlTransfer, from active: inout [UnsafeMutableRawPointer: CurlTransfer], with reason: TransportError.Reason) {
        active[transfer.easy] = nil
        curl_multi_remove_handle(multi, transfer.easy)
        transfer.finish(.failure(TransportError(reason: reason, method: transfer.method, url: transfer.url, detail: reason == .cancelled ? "cancelled" : "client shut down")))
    }
}

extension Duration {
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line ends: a header line's trimming, which
    /// Foundation's `trimmingCharacters(in:)` did at a few percent of the hub's CPU.
    func trimmingASCIISpace() -> String {
        func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 10 || byte == 13 }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
