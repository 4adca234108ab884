import Foundation

/// A progress bar on standard error in the style of tqdm: `label  37%|███▋      | 37/100 [00:12<00:20, 3.10 it/s] loss 0.123`.
/// On a terminal it redraws one line; otherwise (logs, CI) it prints a line every tenth of the way, and at least once a
/// minute on long work (a training log shows it is alive).
final class ProgressBar {
    let total: Int
    let label: String
    let unit: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastDecile = -1
    private let interactive = isatty(STDERR_FILENO) == 1

    init(total: Int, label: String, unit: String = "it") {
        self.total = max(total, 1)
        self.label = label
        self.unit = unit
    }

    /// Shows `done` of `total` finished, with optional trailing information (a loss, a PSNR).
    func update(_ done: Int, info: String = "") {
        let now = Date()
        let decile = done * 10 / total
        if interactive {
            guard done >= total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            FileHandle.standardError.write(Data(("\r" + line(done, info) + "\u{1B}[K").utf8))
        } else if decile != lastDecile || now.timeIntervalSince(lastDraw) >= 60 {
            lastDecile = decile
            lastDraw = now
            FileHandle.standardError.write(Data((line(done, info) + "\n").utf8))
        }
    }

    /// Ends the bar's line.
    func finish(info: String = "") {
        if interactive {
            FileHandle.standardError.write(Data(("\r" + line(total, info) + "\u{1B}[K\n").utf8))
        } else if lastDecile != 10 {
            FileHandle.standardError.write(Data((line(total, info) + "\n").utf8))
        }
    }

    func line(_ done: Int, _ info: String) -> String {
        let elapsed = Date().timeIntervalSince(start)
        let fraction = min(Double(done) / Double(total), 1)
        let width = 20
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: " ", count: width - filled)
        // The first update comes right after the start: no rate yet rather than a meaningless one.
        let rate = done > 0 && elapsed > 0.2 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let eta = rate > 0 ? clock(remaining) : "?"
        let speed = rate == 0 ? "? \(unit)/s" : rate >= 1 ? String(format: "%.2f \(unit)/s", rate) : String(format: "%.2f s/\(unit)", 1 / rate)
        let pct = String(format: "%3d%%", Int(fraction * 100))
        return "\(label) \(pct)|\(bar)| \(done)/\(total) [\(clock(elapsed))<\(eta), \(speed)]"
            + (info.isEmpty ? "" : " " + info)
    }

    func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
    }
}
