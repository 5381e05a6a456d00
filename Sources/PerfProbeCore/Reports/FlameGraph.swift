import FoundationEssentials

/// A flame graph: the profile's stacks merged into a tree (thread name, then
/// frames from the root), drawn as a self-contained SVG — hover for details,
/// click to zoom, Search to highlight, no network. With a baseline, frames
/// are coloured by how their share changed (red grew, blue shrank).
struct FlameGraph {
    final class Node {
        let name: String
        let module: String
        let kernel: Bool
        /// Inlined into its parent (on some of its stacks): drawn dashed.
        var inlined = false
        var value = 0
        var children: [Node] = []
        private var index: [String: Int] = [:]
        /// With a baseline: this path's share of the baseline's samples, in
        /// %, the test of the change, and whether it is significant.
        var baseShare: Double?
        var pValue = 1.0
        var significant = false

        init(name: String, module: String, kernel: Bool) {
            self.name = name
            self.module = module
            self.kernel = kernel
        }

        func child(_ name: String, module: String, kernel: Bool) -> Node {
            let key = name + "\u{1}" + module
            if let existing = index[key] { return children[existing] }
            let node = Node(name: name, module: module, kernel: kernel)
            index[key] = children.count
            children.append(node)
            return node
        }

        func find(_ other: Node) -> Node? {
            index[other.name + "\u{1}" + other.module].map { children[$0] }
        }
    }

    let root: Node
    let title: String
    /// What a node's value counts ("samples", "µs blocked").
    let unit: String
    /// Off-CPU time: cool colours, so it is never mistaken for CPU time.
    let offCPU: Bool

    /// `stacks`: frames leaf first, as indices into `functions`; `inlined`,
    /// where given, says of each stack's frames which were inlined.
    init(stacks: [(tid: ThreadID, frames: [Int], weight: Int)], functions: [SymbolizedFrame], threadNames: [ThreadID: String],
         title: String, unit: String = "samples", offCPU: Bool = false, inlined: [[Bool]]? = nil) {
        let root = Node(name: "all", module: "", kernel: false)
        for (number, stack) in stacks.enumerated() {
            root.value += stack.weight
            var node = root.child(threadNames[stack.tid] ?? "?", module: "thread", kernel: false)
            node.value += stack.weight
            let marks = inlined?[safe: number]
            for (position, index) in stack.frames.enumerated().reversed() {
                let frame = functions[index]
                node = node.child(frame.function, module: frame.module, kernel: frame.kernel)
                node.value += stack.weight
                if marks?[safe: position] == true { node.inlined = true }
            }
        }
        self.root = root
        self.title = title
        self.unit = unit
        self.offCPU = offCPU
    }

    /// The CPU samples of `report`.
    init(_ report: ProfileReport, title: String) {
        self.init(stacks: report.profile.stacks.map { ($0.tid, $0.frames, $0.count) }, functions: report.profile.functions,
                  threadNames: report.threadNames, title: title, inlined: report.profile.stacks.map(report.profile.inlined))
    }

    /// Marks every node with its path's share in `baseline` and whether
    /// the change is significant at `level` (Holm over all paths).
    func compare(with baseline: FlameGraph, level: Double) {
        var nodes: [Node] = []
        func mark(_ node: Node, _ base: Node?) {
            node.baseShare = Double(base?.value ?? 0) * 100 / Double(max(baseline.root.value, 1))
            node.pValue = Statistics.twoProportion(base?.value ?? 0, of: baseline.root.value, node.value, of: root.value) ?? 1
            nodes.append(node)
            for child in node.children { mark(child, base?.find(child)) }
        }
        mark(root, baseline.root)
        for (node, significant) in zip(nodes, Statistics.holm(nodes.map(\.pValue), level: level)) { node.significant = significant }
    }

    static let width = 1200.0
    static let rowHeight = 17.0
    static let margin = 10.0

    /// The SVG; `standalone` adds the XML declaration of a file of its own
    /// (left out when it is inlined in report.html).
    func svg(standalone: Bool = true) -> String {
        let total = Double(max(root.value, 1))
        var rows: [(node: Node, depth: Int, x: Double)] = []
        var maxDepth = 0
        // Nodes narrower than a tenth of a pixel are left out (their share is in their parent).
        func place(_ node: Node, depth: Int, x: Double) {
            guard Double(node.value) / total * (Self.width - 2 * Self.margin) >= 0.1 else { return }
            rows.append((node, depth, x))
            maxDepth = max(maxDepth, depth)
            var offset = x
            for child in node.children.sorted(by: { $0.name < $1.name }) {
                place(child, depth: depth + 1, x: offset)
                offset += Double(child.value)
            }
        }
        place(root, depth: 0, x: 0)
        let height = Double(maxDepth + 1) * Self.rowHeight + 60
        let maxChange = rows.filter(\.node.significant).compactMap { row in row.node.baseShare.map { abs(Double(row.node.value) * 100 / total - $0) } }.max() ?? 0
        var out = standalone ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : ""
        out += """
        <svg id="flamegraph" xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(Int(Self.width))" height="\(Int(height))" \
        viewBox="0 0 \(Int(Self.width)) \(Int(height))" data-total="\(root.value)" font-family="Verdana, sans-serif" font-size="12">
        <style>.f:hover rect { stroke: #000; stroke-width: 0.5; } .f { cursor: pointer; } text { pointer-events: none; }</style>
        <rect x="0" y="0" width="100%" height="100%" fill="#f8f8f8"/>
        <text x="\(Int(Self.width / 2))" y="20" text-anchor="middle" font-size="16">\(Self.escape(title))</text>
        <text id="reset" x="\(Int(Self.margin))" y="20" style="cursor:pointer;display:none" onclick="unzoom()">Reset zoom</text>
        <text id="search" x="\(Int(Self.width - Self.margin))" y="20" text-anchor="end" style="cursor:pointer" onclick="search()">Search</text>
        <text id="matched" x="\(Int(Self.width - Self.margin))" y="\(Int(height - 8))" text-anchor="end"></text>
        <text id="details" x="\(Int(Self.margin))" y="\(Int(height - 8))"> </text>
        <g id="frames">

        """
        for (node, depth, x) in rows {
            let share = Double(node.value) * 100 / total
            var detail = "\(node.name)\(node.module.isEmpty || node.module == "thread" ? "" : " [\(node.module)]")\(node.inlined ? " (inlined)" : "") — \(node.value) \(unit), \(String(printf: "%.2f", share))%"
            // Sampled stacks: the share's 95% interval (off-CPU time is measured, not sampled).
            if !offCPU, let interval = ConfidenceInterval.share(node.value, of: root.value) {
                detail += String(printf: " (95%% CI %.1f–%.1f%%)", interval.low, interval.high)
            }
            let fill: String
            if let base = node.baseShare {
                let change = share - base
                detail += String(printf: " (%+.2f points: %.2f%% before; p = %@%@)", change, base, Statistics.text(pValue: node.pValue),
                                 node.significant ? "" : ", not significant")
                fill = node.significant ? Self.diffColour(change, maxChange: maxChange) : Self.insignificant
            } else {
                fill = offCPU ? Self.coolColour(node) : Self.colour(node)
            }
            let rectX = Self.margin + x / total * (Self.width - 2 * Self.margin)
            let rectWidth = Double(node.value) / total * (Self.width - 2 * Self.margin)
            let y = height - 30 - Double(depth + 1) * Self.rowHeight
            out += """
            <g class="f" data-x="\(Int(x))" data-w="\(node.value)" data-d="\(depth)" onclick="zoom(this)" \
            onmouseover="show(this)" onmouseout="show(null)"><title>\(Self.escape(detail))</title>\
            <rect x="\(Self.fixed(rectX))" y="\(Self.fixed(y))" width="\(Self.fixed(rectWidth))" height="\(Self.fixed(Self.rowHeight - 1))" fill="\(fill)" rx="2"\(node.inlined ? Self.inlinedOutline : "")/>\
            <text x="\(Self.fixed(rectX + 3))" y="\(Self.fixed(y + Self.rowHeight - 5))">\(Self.escape(Self.fit(node.name, width: rectWidth)))</text></g>

            """
        }
        out += "</g>\n<script><![CDATA[\n" + Self.script + "\n]]></script>\n</svg>\n"
        return out
    }

    /// Blues from the name for off-CPU time; kernel frames violet.
    static func coolColour(_ node: Node) -> String {
        if node.module == "thread" || node.module.isEmpty { return "rgb(220,220,220)" }
        let hash = node.name.utf8.reduce(UInt32(2166136261)) { ($0 ^ UInt32($1)) &* 16777619 }
        if node.kernel { return "rgb(\(150 + Int(hash % 40)),\(110 + Int(hash / 40 % 40)),\(210 + Int(hash / 1600 % 40)))" }
        return "rgb(\(50 + Int(hash % 60)),\(110 + Int(hash / 60 % 100)),\(200 + Int(hash / 6000 % 50)))"
    }

    /// Warm colours from the name, so a function keeps its colour; kernel frames orange.
    static func colour(_ node: Node) -> String {
        if node.module == "thread" || node.module.isEmpty { return "rgb(220,220,220)" }
        let hash = node.name.utf8.reduce(UInt32(2166136261)) { ($0 ^ UInt32($1)) &* 16777619 }
        if node.kernel { return "rgb(\(230 + Int(hash % 20)),\(120 + Int(hash / 20 % 50)),40)" }
        return "rgb(\(205 + Int(hash % 50)),\(60 + Int(hash / 50 % 140)),\(40 + Int(hash / 7000 % 30)))"
    }

    static let insignificant = "rgb(215,215,215)"

    static func diffColour(_ change: Double, maxChange: Double) -> String {
        let strength = maxChange > 0 ? min(abs(change) / maxChange, 1) : 0
        let fade = Int(230 - 180 * strength)
        return change >= 0 ? "rgb(240,\(fade),\(fade))" : "rgb(\(fade),\(fade),240)"
    }

    /// As much of `name` as fits `width` pixels at 7 px a character.
    static func fit(_ name: String, width: Double) -> String {
        let characters = Int((width - 6) / 7)
        if characters < 3 { return "" }
        return name.count <= characters ? name : String(name.prefix(characters - 2)) + ".."
    }

    /// An inlined function's frame: a dashed outline (its colour stays its name's).
    static let inlinedOutline = " stroke=\"#604020\" stroke-width=\"1\" stroke-dasharray=\"4,2\" class=\"inlined\""

    /// One decimal, as "%.1f" prints it for the coordinates of an SVG
    /// (tens of thousands per graph: printf is the slow part).
    static func fixed(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e12 else { return String(printf: "%.1f", value) }
        let tenths = Int((abs(value) * 10).rounded())
        return (value < 0 && tenths > 0 ? "-" : "") + "\(tenths / 10).\(tenths % 10)"
    }

    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "\"") })
        else { return text }
        return text.replacing("&", with: "&amp;").replacing("<", with: "&lt;")
            .replacing(">", with: "&gt;").replacing("\"", with: "&quot;")
    }

    /// Zoom re-lays out the frames inside the clicked one; search highlights matches.
    static let script = """
    var svg = document.getElementById('flamegraph'), total = +svg.getAttribute('data-total');
    var width = \(width), margin = \(margin);
    var frames = Array.prototype.slice.call(svg.querySelectorAll('#frames .f'));
    function fit(name, w) { var n = Math.floor((w - 6) / 7); return n < 3 ? '' : (name.length <= n ? name : name.slice(0, n - 2) + '..'); }
    function layout(x0, w0, d0) {
      frames.forEach(function (g) {
        var x = +g.getAttribute('data-x'), w = +g.getAttribute('data-w'), d = +g.getAttribute('data-d');
        var r = g.querySelector('rect'), t = g.querySelector('text');
        var inside = x >= x0 && x + w <= x0 + w0 + 1e-9;
        var below = d < d0 && x <= x0 && x + w >= x0 + w0;
        if (!inside && !below) { g.style.display = 'none'; return; }
        g.style.display = '';
        var sx = below ? margin : margin + (x - x0) / w0 * (width - 2 * margin);
        var sw = below ? width - 2 * margin : w / w0 * (width - 2 * margin);
        r.setAttribute('x', sx.toFixed(1)); r.setAttribute('width', sw.toFixed(1));
        t.setAttribute('x', (sx + 3).toFixed(1));
        t.textContent = fit(g.getAttribute('data-name'), sw);
      });
    }
    frames.forEach(function (g) { g.setAttribute('data-name', g.querySelector('title').textContent.split(' — ')[0].replace(/ \\(inlined\\)$/, '').replace(/ \\[[^\\]]*\\]$/, '')); });
    function zoom(g) { layout(+g.getAttribute('data-x'), +g.getAttribute('data-w'), +g.getAttribute('data-d')); document.getElementById('reset').style.display = ''; }
    function unzoom() { layout(0, total, 0); document.getElementById('reset').style.display = 'none'; }
    function show(g) { document.getElementById('details').textContent = g ? g.querySelector('title').textContent : ' '; }
    function search() {
      var term = prompt('Search (regular expression)'); if (term === null) return;
      var re = new RegExp(term), matched = 0, seen = [];
      frames.forEach(function (g) {
        var r = g.querySelector('rect');
        if (!r.getAttribute('data-fill')) r.setAttribute('data-fill', r.getAttribute('fill'));
        var hit = term !== '' && re.test(g.getAttribute('data-name'));
        r.setAttribute('fill', hit ? 'rgb(230,0,230)' : r.getAttribute('data-fill'));
        if (hit) {
          var x = +g.getAttribute('data-x'), w = +g.getAttribute('data-w');
          if (!seen.some(function (s) { return x >= s[0] && x + w <= s[0] + s[1]; })) { seen.push([x, w]); matched += w; }
        }
      });
      document.getElementById('matched').textContent = term === '' ? '' : 'Matched: ' + (matched * 100 / total).toFixed(1) + '%';
    }
    """
}
