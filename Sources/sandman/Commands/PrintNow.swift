import Foundation

/// Writes a line to standard output at once: `print` is block-buffered when the output is a pipe,
/// and scripts read the URLs and tokens of long-running simulators before they stop.
func printNow(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
