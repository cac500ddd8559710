/// GitLab's offset pagination: `page` (from 1) and `per_page` (default 20, at most 100), and the
/// headers that describe it (`X-Page`, `X-Per-Page`, `X-Total`, `X-Total-Pages`, `X-Next-Page`,
/// `X-Prev-Page`, `Link`), which python-gitlab follows.
struct Pagination {
    let page: Int
    let perPage: Int
    let total: Int

    init(parameters: Parameters, total: Int) {
        let requestedPage = (try? parameters.int("page")).flatMap { $0 } ?? 1
        let requestedSize = (try? parameters.int("per_page")).flatMap { $0 } ?? 20
        page = max(1, requestedPage)
        perPage = requestedSize < 1 ? 20 : min(requestedSize, 100)
        self.total = total
    }

    var totalPages: Int { max(1, (total + perPage - 1) / perPage) }

    var range: Range<Int> {
        let start = min((page - 1) * perPage, total)
        return start..<min(start + perPage, total)
    }

    func headers(base: String, query: String?) -> [(String, String)] {
        let next = page < totalPages ? page + 1 : nil
        let previous = page > 1 ? min(page - 1, totalPages) : nil
        var headers = [
            ("X-Page", String(page)), ("X-Per-Page", String(perPage)), ("X-Total", String(total)),
            ("X-Total-Pages", String(totalPages)), ("X-Next-Page", next.map(String.init) ?? ""),
            ("X-Prev-Page", previous.map(String.init) ?? ""),
        ]
        let kept = (query ?? "").split(separator: "&").filter { !$0.hasPrefix("page=") && !$0.hasPrefix("per_page=") }.joined(separator: "&")
        func link(_ page: Int, _ relation: String) -> String {
            let query = (kept.isEmpty ? "" : kept + "&") + "page=\(page)&per_page=\(perPage)"
            return "<\(base)?\(query)>; rel=\"\(relation)\""
        }
        var links: [String] = []
        if let previous { links.append(link(previous, "prev")) }
        if let next { links.append(link(next, "next")) }
        links.append(link(1, "first"))
        links.append(link(totalPages, "last"))
        headers.append(("Link", links.joined(separator: ", ")))
        return headers
    }
}
