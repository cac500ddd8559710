/// GitLab's offset pagination: `page` (from 1) and `per_page` (default 20, at most 100), and the
/// headers that describe a page (`X-Page`, `X-Per-Page`, `X-Total`, `X-Total-Pages`,
/// `X-Next-Page`, `X-Prev-Page`, `Link`), which python-gitlab follows.
struct Pagination {
    let page: Int
    let perPage: Int

    /// Both must be integers (Grape: `page is invalid`); out-of-range values are clamped as GitLab does.
    init(parameters: Parameters) throws(GitLabError) {
        page = min(max(1, try parameters.int("page") ?? 1), 1_000_000)
        let size = try parameters.int("per_page") ?? 20
        perPage = size < 1 ? 20 : min(size, 100)
    }

    func totalPages(_ total: Int) -> Int { max(1, (total + perPage - 1) / perPage) }

    func range(_ total: Int) -> Range<Int> {
        let start = min((page - 1) * perPage, total)
        return start..<min(start + perPage, total)
    }

    func headers(total: Int, base: String, query: String?) -> [(String, String)] {
        let pages = totalPages(total)
        let next = page < pages ? page + 1 : nil
        let previous = page > 1 ? min(page - 1, pages) : nil
        var headers = [
            ("X-Page", String(page)), ("X-Per-Page", String(perPage)), ("X-Total", String(total)),
            ("X-Total-Pages", String(pages)), ("X-Next-Page", next.map(String.init) ?? ""),
            ("X-Prev-Page", previous.map(String.init) ?? ""),
        ]
        let kept = (query ?? "").split(separator: "&").filter { !$0.hasPrefix("page=") && !$0.hasPrefix("per_page=") }.joined(separator: "&")
        func link(_ page: Int, _ relation: String) -> String {
            "<\(base)?\(kept.isEmpty ? "" : kept + "&")page=\(page)&per_page=\(perPage)>; rel=\"\(relation)\""
        }
        var links: [String] = []
        if let previous { links.append(link(previous, "prev")) }
        if let next { links.append(link(next, "next")) }
        links += [link(1, "first"), link(pages, "last")]
        headers.append(("Link", links.joined(separator: ", ")))
        return headers
    }
}
