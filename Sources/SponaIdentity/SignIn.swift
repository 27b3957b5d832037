import Foundation
import SponaDomain

/// A person signed in at the network's identity provider, as Spona understands them: who, of
/// which institution, in which role, and for analysts which districts.
public struct SignedInPerson: Sendable, Hashable {
    /// The provider's `sub`: stable for the person, never reassigned.
    public var subject: String
    /// The person's name as the provider gives it, for the read trail; never used to decide.
    public var name: String?
    public var institution: InstitutionID
    public var role: Role
    public var districts: [DistrictCode]

    /// The id every event and every read-trail record carries for this person.
    public var actorID: String { "person:\(subject)" }
}

/// Why a bearer token does not sign anyone in. Every case answers 401 with its description,
/// which names the claim or check that failed and never echoes the token.
public enum SignInRefusal: Error, Equatable, CustomStringConvertible, Sendable {
    case malformed
    case algorithmRefused(String)
    case missingKeyID
    case unknownKey
    case badSignature
    case expired
    case notYetValid
    case wrongIssuer
    case wrongAudience
    case missingClaim(String)
    case unknownRole(String)
    case severalRoles([String])
    case unknownDistrict(String)
    case analystWithoutDistricts
    case keysUnavailable

    public var description: String {
        switch self {
        case .malformed: "the token is not a well-formed signed JWT"
        case .algorithmRefused(let algorithm):
            "tokens signed with '\(algorithm.prefix(20))' are refused: only the provider's asymmetric keys (RS, PS, ES, EdDSA) sign in"
        case .missingKeyID: "the token names no signing key ('kid')"
        case .unknownKey: "the token was signed with a key the identity provider does not publish"
        case .badSignature: "the token's signature does not verify"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet ('nbf')"
        case .wrongIssuer: "the token was not issued by the identity provider Spona trusts"
        case .wrongAudience: "the token is not meant for Spona (its 'aud' does not name it)"
        case .missingClaim(let claim): "the token carries no '\(claim)' claim; ask the identity provider's administrator to map it"
        case .unknownRole(let role):
            "the token's role '\(role.prefix(40))' is none of Spona's roles (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .severalRoles(let roles): "the token grants several Spona roles (\(roles.joined(separator: ", "))); a sign-in acts in exactly one"
        case .unknownDistrict(let code): "the token names '\(code.prefix(20))', which is not a district"
        case .analystWithoutDistricts: "an analyst's token names no districts"
        case .keysUnavailable: "the identity provider's keys cannot be read now"
        }
    }
}

/// Which claims say who the caller is. Configurable because providers differ: Keycloak puts
/// realm roles in `realm_access.roles` and user attributes wherever a mapper says.
public struct ClaimMapping: Sendable, Hashable {
    /// Claims tried in order for the display name.
    public var name: [String] = ["name", "preferred_username"]
    /// The institution's id (a UUID from Spona's registry).
    public var institution = "spona_institution"
    /// The role: a string or an array of strings; only values with ``rolePrefix`` count.
    public var role = "spona_role"
    public var rolePrefix = ""
    /// For analysts, the districts (ISO 3166-2:RS codes): a string or an array; values are
    /// taken after ``districtPrefix`` (e.g. `/districts/` for Keycloak group paths).
    public var districts = "spona_districts"
    public var districtPrefix = ""

    public init() {}

    /// The person these claims describe, or why they describe nobody Spona knows.
    public func person(from claims: ClaimValue, knownDistricts: Set<String>) throws(SignInRefusal) -> SignedInPerson {
        guard let subject = claims.value(at: "sub")?.strings.first, !subject.isEmpty, subject.utf8.count <= 255 else {
            throw .missingClaim("sub")
        }
        let name = self.name.lazy.compactMap { claims.value(at: $0)?.strings.first }.first.map(Self.clean)
        guard let institutionText = claims.value(at: institution)?.strings.first else { throw .missingClaim(institution) }
        guard let uuid = UUID(uuidString: institutionText) else { throw .missingClaim(institution) }

        let granted = (claims.value(at: role)?.strings ?? []).filter { $0.hasPrefix(rolePrefix) }.map { String($0.dropFirst(rolePrefix.count)) }
        guard !granted.isEmpty else { throw .missingClaim(role) }
        let roles = Set(granted.compactMap(Role.init(rawValue:)))
        // With a prefix, values that are not roles are other applications' and ignored; without
        // one, a value that is no role is a misconfiguration worth saying.
        if roles.isEmpty || (rolePrefix.isEmpty && granted.count > roles.count) {
            throw .unknownRole(granted.first { Role(rawValue: $0) == nil } ?? granted[0])
        }
        guard roles.count == 1, let role = roles.first else { throw .severalRoles(roles.map(\.rawValue).sorted()) }

        var districts: [DistrictCode] = []
        for value in claims.value(at: self.districts)?.strings ?? [] where value.hasPrefix(districtPrefix) {
            let code = String(value.dropFirst(districtPrefix.count))
            guard knownDistricts.contains(code) else { throw .unknownDistrict(code) }
            districts.append(DistrictCode(rawValue: code))
        }
        if role == .analyst && districts.isEmpty { throw .analystWithoutDistricts }
        return SignedInPerson(
            subject: subject,
            name: name,
            institution: InstitutionID(rawValue: uuid),
            role: role,
            districts: Array(Set(districts)).sorted()
        )
    }

    /// A name as it may be written into the trail: one line, at most 200 characters.
    static func clean(_ name: String) -> String {
        let kept = name.unicodeScalars.map { $0.properties.isWhitespace || $0.properties.generalCategory == .control ? " " : Character($0) }
        return String(String(kept).prefix(200))
    }
}
