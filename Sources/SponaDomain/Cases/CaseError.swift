import Foundation

/// Why a command to a case was refused, in words the professional can act on.
public enum CaseError: Error, Hashable, Sendable, CustomStringConvertible {
    // The command does not fit the case's state: HTTP 409.
    case caseAlreadyExists(CaseID)
    case caseNotFound
    case caseClosed(since: Date)
    case caseNotClosed
    case alreadyAcknowledged(on: Date)
    case notAcknowledged
    case referralNotFound(ReferralID)
    case referralNotInState(ReferralID, status: Referral.Status, since: Date, wanted: String)
    case conferenceNotFound(ConferenceID)
    case conferenceNotInState(ConferenceID, status: CaseConference.Status, wanted: String)
    case conferenceExists(ConferenceID)
    case referralExists(ReferralID)
    case decisionNotFound(DecisionID)
    case decisionExists(DecisionID)
    case decisionAlreadyImplemented(DecisionID, on: Date)
    case personalDataAlreadyErased(on: Date)
    case openReferrals(count: Int)

    // Who may do it: HTTP 403.
    case onlyTheCenter(action: String)
    case onlyReceiver(ReferralID)
    case onlySender(ReferralID)
    case onlyResponsible(DecisionID)
    case notAParty
    case roleMayNot(Role, action: String)

    // The command itself is wrong: HTTP 422.
    case unknownMunicipality(String)
    case unknownInstitution(InstitutionID)
    case inactiveInstitution(InstitutionID, name: String)
    case unknownIndicator(String)
    case badCountry(String)
    case locationNeedsOnePlace(Location.Role)
    case referralToSelf
    case dueInThePast
    case missingText(field: String)
    case attendeeNotInvited(InstitutionID)
    case responsibleDidNotAttend(InstitutionID)
    case tooLong(field: String, limit: Int)
    case tooMany(field: String, limit: Int)
    case unknownVulnerableGroup(String)
    /// A person named who is not one of the case's.
    case subjectNotFound(SubjectID)
    /// A stored report that names nobody (no report filed through the domain can).
    case noSubject
    /// The same person named twice in one report.
    case subjectNamedTwice(SubjectID)
    /// Text about a subject whose personal data was erased: it could only be kept in the
    /// clear, where no erasure reaches.
    case textAfterErasure(field: String, erasedOn: Date)
    /// The case manager is named by an actor id, never by free text.
    case badActorID(String)

    /// How the HTTP layer should answer it.
    public enum Kind: Sendable { case conflict, forbidden, invalid }

    public var kind: Kind {
        switch self {
        case .onlyTheCenter, .onlyReceiver, .onlySender, .onlyResponsible, .notAParty, .roleMayNot: .forbidden
        case .unknownMunicipality, .unknownInstitution, .inactiveInstitution, .unknownIndicator, .badCountry,
            .locationNeedsOnePlace, .referralToSelf, .dueInThePast, .missingText, .attendeeNotInvited, .responsibleDidNotAttend,
            .tooLong, .tooMany, .unknownVulnerableGroup, .badActorID, .subjectNotFound, .subjectNamedTwice, .noSubject:
            .invalid
        default: .conflict
        }
    }

    public var description: String {
        switch self {
        case .caseAlreadyExists(let id): "case \(id) already exists"
        case .caseNotFound: "there is no such case"
        case .caseClosed(let since): "the case was closed on \(Self.day(since)); reopen it first"
        case .caseNotClosed: "the case is not closed, so it cannot be reopened"
        case .alreadyAcknowledged(let on): "the report was already acknowledged on \(Self.day(on))"
        case .notAcknowledged: "the report must be acknowledged before it is triaged"
        case .referralNotFound(let id): "this case has no referral \(Self.short(id))"
        case let .referralNotInState(id, status, since, wanted):
            "referral \(Self.short(id)) was \(Self.words(status)) on \(Self.day(since)); it cannot be \(wanted)"
        case .conferenceNotFound(let id): "this case has no conference \(Self.short(id))"
        case let .conferenceNotInState(id, status, wanted): "conference \(Self.short(id)) is \(status.rawValue); it cannot be \(wanted)"
        case .conferenceExists(let id): "conference \(Self.short(id)) is already scheduled"
        case .referralExists(let id): "referral \(Self.short(id)) was already sent"
        case .decisionNotFound(let id): "this case has no decision \(Self.short(id))"
        case .decisionExists(let id): "decision \(Self.short(id)) is already recorded"
        case .personalDataAlreadyErased(let on): "this personal data was already erased on \(Self.day(on))"
        case let .decisionAlreadyImplemented(id, on): "decision \(Self.short(id)) was already implemented on \(Self.day(on))"
        case .openReferrals(let count):
            "\(count) referral\(count == 1 ? " is" : "s are") still open; complete, fail or withdraw \(count == 1 ? "it" : "them") before closing the case"
        case .onlyTheCenter(let action): "only the Center for Protection of Victims of Trafficking may \(action)"
        case .onlyReceiver(let id): "only the institution referral \(Self.short(id)) was sent to may do this"
        case .onlySender(let id): "only the institution that sent referral \(Self.short(id)) may do this"
        case .onlyResponsible(let id): "only the institution responsible for decision \(Self.short(id)) may mark it implemented"
        case .notAParty: "your institution is not a party to this case"
        case let .roleMayNot(role, action): "the \(role.rawValue) role may not \(action)"
        case .unknownMunicipality(let code): "'\(code)' is not a municipality code; see GET /v1/municipalities"
        case .unknownInstitution(let id): "there is no institution \(id)"
        case let .inactiveInstitution(_, name): "\(name) is no longer active; choose another institution"
        case .unknownIndicator(let id): "'\(id)' is not an indicator of the current catalogue"
        case .badCountry(let code): "'\(code)' is not an ISO 3166-1 alpha-2 country code"
        case .locationNeedsOnePlace(let role): "a \(role.rawValue) location needs exactly one of municipality or country"
        case .referralToSelf: "an institution cannot refer a case to itself"
        case .dueInThePast: "the due time must be in the future"
        case .missingText(let field): "\(field) must not be empty"
        case let .textAfterErasure(field, on):
            "the personal data of this case was erased on \(Self.day(on)): no text about it can be recorded any more; leave out \(field)"
        case .badActorID(let text):
            "'\(text.prefix(40))' is not an actor id (letters, digits and . _ - : @, at most \(CaseLimits.maxActorIDCharacters)); name the case manager by id, never by name"
        case let .tooLong(field, limit): "\(field) is longer than \(limit) characters"
        case let .tooMany(field, limit): "at most \(limit) \(field)"
        case .unknownVulnerableGroup(let code):
            "'\(code)' is not a vulnerable group; one of \(VulnerableGroup.allCases.map(\.rawValue).joined(separator: ", "))"
        case .subjectNotFound(let id): "person \(id) is not one of the people this case is about"
        case .noSubject: "a report must be about at least one person"
        case .subjectNamedTwice(let id): "person \(id) is named twice in the report; name each person once"
        case .attendeeNotInvited(let id): "institution \(id) was not invited to this conference"
        case .responsibleDidNotAttend(let id): "institution \(id) did not attend the conference, so it cannot be made responsible"
        }
    }

    private static func short(_ id: some Identifier) -> String { "R-" + id.description.prefix(8) }
    private static func short(_ id: ConferenceID) -> String { "C-" + id.description.prefix(8) }
    private static func short(_ id: DecisionID) -> String { "D-" + id.description.prefix(8) }

    private static func words(_ status: Referral.Status) -> String {
        status == .enteredInError ? "marked entered in error" : status.rawValue
    }

    private static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Belgrade") ?? .gmt
        let parts = calendar.dateComponents([.day, .month, .year], from: date)
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        return "\(parts.day ?? 0) \(months[(parts.month ?? 1) - 1]) \(parts.year ?? 0)"
    }
}
