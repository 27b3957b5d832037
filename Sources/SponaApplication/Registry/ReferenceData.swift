import Foundation
import SponaDomain

/// The reference data the project ships in `Reference/`, read from disk once at start-up.
public enum ReferenceData {
    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String)
        case invalid(String)
        public var description: String {
            switch self {
            case .unreadable(let path): "cannot read \(path); set SPONA_REFERENCE_DIR to the project's Reference folder"
            case .invalid(let reason): "the reference data is invalid: \(reason)"
            }
        }
    }

    public static func geography(in directory: URL) throws -> Geography {
        func read(_ name: String) throws -> String {
            let url = directory.appendingPathComponent(name)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw LoadError.unreadable(url.path) }
            return text
        }
        do {
            return try Geography(
                districtsCSV: read("districts.csv"),
                municipalitiesCSV: read("municipalities.csv"),
                aliasesCSV: read("place-aliases.csv")
            )
        } catch let error as Geography.LoadError {
            throw LoadError.invalid(error.description)
        }
    }

    /// `SPONA_REFERENCE_DIR`, or `Reference` in the working directory.
    public static var defaultDirectory: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["SPONA_REFERENCE_DIR"] ?? "Reference")
    }
}
