// The docs a new user follows match the tool: every command in the README's table, what inputs
// mean, one training recipe, and sizes that come from scripts/sizes.sh (which CI checks).
@testable import EarlyExitTools
import Foundation
import XCTest

final class DocsTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    func read(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The text from the line starting with `start` up to the next heading of the same or a higher level.
    func section(_ text: String, _ start: String) throws -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let first = try XCTUnwrap(lines.firstIndex { $0.hasPrefix(start) }, "no section \(start)")
        let level = start.prefix { $0 == "#" }.count
        let end = lines[(first + 1)...].firstIndex { line in
            let hashes = line.prefix { $0 == "#" }.count
            return hashes > 0 && hashes <= level && line.dropFirst(hashes).hasPrefix(" ")
        } ?? lines.endIndex
        return lines[first..<end].joined(separator: "\n")
    }

    func testTheCommandTableListsEveryCommand() throws {
        let table = try section(try read("README.md"), "### The command line")
        var listed = Set<String>()
        for line in table.split(separator: "\n") where line.hasPrefix("| `early-exit ") {
            listed.insert(String(line.dropFirst("| `early-exit ".count).prefix { $0 != " " && $0 != "`" }))
        }
        let commands = Set(EarlyExitCLI.commands.map(\.spec.name))
        XCTAssertEqual(listed, commands.union(["--version"]), "README command table vs the CLI's commands")
    }

    func testTheReadmeSaysWhatInputNumbersMean() throws {
        let usage = try section(try read("README.md"), "### The command line")
        for needle in ["**integers**", "**8-bit pixels**", "**floats**", "**the network's input as is**", "--pixels", "--normalized",
                       "refuses pixel input", "probabilities", "log_probabilities"] {
            XCTAssertTrue(usage.contains(needle), "README's command line section mentions \(needle)")
        }
    }

    /// Models/README.md and Training/README.md give the same commands for the bundled network,
    /// the 30-epoch run that scripts/make-bundle.sh turns into the .eem files.
    func testOneTrainingRecipe() throws {
        /// The train and export commands of the section's first shell block.
        func commands(_ section: String) -> [String] {
            guard let open = section.range(of: "```sh\n"),
                  let close = section.range(of: "```", range: open.upperBound..<section.endIndex) else { return [] }
            return section[open.upperBound..<close.lowerBound].split(separator: "\n").compactMap { line -> String? in
                let command = line.split(separator: "#", maxSplits: 1).first.map(String.init) ?? ""
                guard command.contains("Training/train.py") || command.contains("Training/export.py") else { return nil }
                return command.split(separator: " ").joined(separator: " ")
            }
        }
        let models = commands(try section(try read("Models/README.md"), "## Commands that made these files"))
        let training = commands(try section(try read("Training/README.md"), "## Reproduce the bundled model"))
        XCTAssertEqual(models.count, 2, "\(models)")
        XCTAssertEqual(models, training)
        XCTAssertTrue(models.first?.contains("--epochs 30") ?? false, "the bundled network trained 30 epochs: \(models)")
        XCTAssertFalse(models.first?.contains("--no-temper") ?? true)
        XCTAssertTrue(try read("Models/README.md").contains("scripts/make-bundle.sh"))
    }

    /// Every library or code size the docs quote is a `<!--size:KEY-->` figure that
    /// scripts/sizes.sh measures (and CI checks with `scripts/sizes.sh --check`).
    func testSizeFiguresAreTheScriptsFigures() throws {
        let script = try read("scripts/sizes.sh")
        let marker = try NSRegularExpression(pattern: "<!--size:([a-z0-9_]+)-->([^<]*)<!--/size-->")
        let figure = try NSRegularExpression(pattern: "[0-9][0-9,.]*\\s?(KB|MB)\\b|[0-9]{1,3}(,[0-9]{3})+")
        let readme = try read("README.md"), embedded = try read("docs/EMBEDDED.md")
        let notDone = try section(readme, "## What is not done yet")
        let bullet = String(notDone[try XCTUnwrap(notDone.range(of: "- **Cortex-M4 code size.**")).lowerBound...])
        let sizes = try section(embedded, "## Sizes")
        let parts: [(String, String)] = [
            ("README.md, In C and C++ apps", try section(readme, "### In C and C++ apps")),
            ("README.md, Cortex-M4 code size", String(bullet.prefix { $0 != "\n" }) + "\n" + (bullet.split(separator: "\n").dropFirst().first ?? "")),
            ("docs/EMBEDDED.md, Sizes", String(sizes[..<(sizes.range(of: "The breakdown")?.lowerBound ?? sizes.endIndex)])),
        ]
        var keys = Set<String>()
        for (heading, text) in parts {
            let whole = NSRange(text.startIndex..., in: text)
            for match in marker.matches(in: text, range: whole) {
                keys.insert(String(text[Range(match.range(at: 1), in: text)!]))
            }
            let bare = marker.stringByReplacingMatches(in: text, range: whole, withTemplate: "")
            let stray = figure.matches(in: bare, range: NSRange(bare.startIndex..., in: bare))
                .map { String(bare[Range($0.range, in: bare)!]) }
                .filter { $0 != "64 KB" } // the Cortex-M goal, not a measurement
            XCTAssertEqual(stray, [], "\(heading): sizes not generated by scripts/sizes.sh")
        }
        XCTAssertTrue(keys.isSuperset(of: ["code_x86_64", "code_aarch64", "code_armv7em", "lib_host", "classify_host", "classify_aarch64"]), "\(keys)")
        for key in keys { XCTAssertTrue(script.contains("measured[\(key)]") || script.contains("lib_$target") && key.hasPrefix("lib_"), key) }
        XCTAssertTrue(try read(".ci/embedded.sh").contains("scripts/sizes.sh --check"), "CI checks the quoted sizes")
    }
}
