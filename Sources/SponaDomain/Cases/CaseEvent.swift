import Foundation

/// The forms of exploitation a report can suspect.
public enum ExploitationForm: String, Codable, Sendable, CaseIterable {
    case sexual, labour, begging, criminality
    case forcedMarriage = "forced_marriage"
    case other
}

public enum Gender: String, Codable, Sendable, CaseIterable {
    case female, male, other, unknown
}

public enum Urgency: String, Codable, Sendable, CaseIterable {
    case routine, urgent, immediate
}

public enum ReportChannel: String, Codable, Sendable, CaseIterable {
    case app, phone, email, letter
    case inPerson = "in_person"
    case hotline
}

/// Where part of the story happened: recruitment, transit and exploitation are often in
/// different municipalities, or abroad.
public struct Location: Hashable, Codable, Sendable {
    public enum Role: String, Codable, Sendable, CaseIterable {
        case residence, recruitment, transit, exploitation
    }

    public var role: Role
    /// A municipality of Serbia, or…
    public var municipality: MunicipalityCode?
    /// …a country, as an ISO 3166-1 alpha-2 code.
    public var country: String?

    public init(role: Role, municipality: MunicipalityCode? = nil, country: String? = nil) {
        self.role = role
        self.municipality = municipality
        self.country = country
    }
}

/// The person the report is about, as far as anyone may know without reason: a pseudonym and
/// the facts statistics need. Name, birth date, contacts, documents and the narrative travel
/// only inside ``SealedPersonalData``.
public struct SubjectProfile: Hashable, Codable, Sendable {
    public var id: SubjectID
    public var ageGroup: AgeGroup
    public var gender: Gender
    /// ISO 3166-1 alpha-2, when known.
    public var citizenship: String?
    public var isMigrant: Bool
    public var vulnerableGroups: [String]

    public init(
        id: SubjectID = SubjectID(),
        ageGroup: AgeGroup,
        gender: Gender,
        citizenship: String? = nil,
        isMigrant: Bool = false,
        vulnerableGroups: [String] = []
    ) {
        self.id = id
        self.ageGroup = ageGroup
        self.gender = gender
        self.citizenship = citizenship
        self.isMigrant = isMigrant
        self.vulnerableGroups = Self.eachOnce(vulnerableGroups)
    }

    /// The codes as a set, in the order first named: made so however a profile is built or
    /// read back (a report stored before may name one twice).
    static func eachOnce(_ codes: [String]) -> [String] {
        var seen: Set<String> = []
        return codes.filter { seen.insert($0).inserted }
    }
}

extension SubjectProfile {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(SubjectID.self, forKey: .id),
            ageGroup: try container.decode(AgeGroup.self, forKey: .ageGroup),
            gender: try container.decode(Gender.self, forKey: .gender),
            citizenship: try container.decodeIfPresent(String.self, forKey: .citizenship),
            isMigrant: try container.decode(Bool.self, forKey: .isMigrant),
            vulnerableGroups: try container.decode([String].self, forKey: .vulnerableGroups)
        )
    }
}

/// The subject's personal data, encrypted under a key of the subject's own before it reaches
/// the domain. The domain never opens it; it only carries it into the event.
public struct SealedPersonalData: Hashable, Codable, Sendable {
    /// Base64 of the AES-GCM box (nonce, ciphertext, tag).
    public var ciphertext: String
    public var keyID: String

    public init(ciphertext: String, keyID: String) {
        self.ciphertext = ciphertext
        self.keyID = keyID
    }
}

/// A person a report is about: what statistics may know of them, and their personal data
/// sealed under a key of their own, so that each can be erased alone.
public struct CaseSubject: Hashable, Codable, Sendable {
    public var profile: SubjectProfile
    public var personalData: SealedPersonalData?

    public init(profile: SubjectProfile, personalData: SealedPersonalData? = nil) {
        self.profile = profile
        self.personalData = personalData
    }

    public var id: SubjectID { profile.id }
}

public enum DecisionType: String, Codable, Sendable, CaseIterable {
    case shelterPlacement = "shelter_placement"
    /// Testimony by video link from the shelter, to spare the person a second victimisation.
    case testimonyByVideoLink = "testimony_by_video_link"
    case preventionProgramme = "prevention_programme"
    case leadInstitution = "lead_institution"
    case healthCare = "health_care"
    case legalAid = "legal_aid"
    case schooling
    case other
}

public enum IdentificationOutcome: String, Codable, Sendable, CaseIterable {
    case identifiedVictim = "identified_victim"
    /// Not (yet) a victim but at risk: a prevention programme follows.
    case atRiskPrevention = "at_risk_prevention"
    case notAVictim = "not_a_victim"
}

public enum AssistanceKind: String, Codable, Sendable, CaseIterable {
    case information, counselling, shelter, health, legal, financial, education, employment, reintegration, other
}

/// Every fact a case can record. The case's stream is `case-<id>`; each event is stored with
/// its ``typeName`` and its payload as JSON.
public enum CaseEvent: Hashable, Sendable {
    case reportFiled(ReportFiled)
    case reportAcknowledged(ReportAcknowledged)
    case reportTriaged(ReportTriaged)
    case referralSent(ReferralSent)
    case referralReceived(ReferralStep)
    case referralAccepted(ReferralStep)
    case referralDeclined(ReferralStep)
    case referralCompleted(ReferralStep)
    case referralFailed(ReferralStep)
    case referralWithdrawn(ReferralStep)
    case referralEnteredInError(ReferralStep)
    case conferenceScheduled(ConferenceScheduled)
    case conferenceHeld(ConferenceHeld)
    case decisionRecorded(DecisionRecorded)
    case decisionImplemented(DecisionImplemented)
    case conferenceCancelled(ConferenceCancelled)
    case identificationConcluded(IdentificationConcluded)
    case assistanceProvided(AssistanceProvided)
    case caseClosed(CaseClosed)
    case caseReopened(CaseReopened)
    case personalDataErased(PersonalDataErased)

    public struct ReportFiled: Hashable, Codable, Sendable {
        public var caseID: CaseID
        public var reportingInstitution: InstitutionID
        public var municipality: MunicipalityCode
        public var channel: ReportChannel
        /// Everyone the report is about (siblings, a group of workers), the first named first:
        /// persons are counted from these, reports from cases.
        public var subjects: [CaseSubject]
        public var locations: [Location]
        public var exploitation: [ExploitationForm]
        public var indicators: [IndicatorID]
        public var risk: RiskAssessment
        public var urgency: Urgency
        /// Whether the reporting professional took part in a training (for the training-impact view).
        public var reporterTrained: Bool

        /// The first person named: the case's texts are sealed under their key, so they go
        /// with that person's personal data when it is erased.
        /// (A stored report naming nobody, which the domain never records, reads as an unknown
        /// person here, so that no reader can trip over it; ``CaseLimits/checkStored(_:)``
        /// names it.)
        public var subject: SubjectProfile { subjects.first?.profile ?? Self.nobody }
        public var personalData: SealedPersonalData? { subjects.first?.personalData }
        private static let nobody = SubjectProfile(
            id: SubjectID(rawValue: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))),
            ageGroup: .unknown,
            gender: .unknown
        )
        public func subject(_ id: SubjectID) -> CaseSubject? { subjects.first { $0.id == id } }
    }

    public struct ReportAcknowledged: Hashable, Codable, Sendable {
        public var by: InstitutionID
    }

    public struct ReportTriaged: Hashable, Codable, Sendable {
        public var confirmedRisk: RiskLevel
        /// The Center's case manager: an actor id, never a name.
        public var caseManager: String
        public var note: CaseText?
    }

    public struct ReferralSent: Hashable, Codable, Sendable {
        public var referral: ReferralID
        public var from: InstitutionID
        public var to: InstitutionID
        /// Required when sent, except after the subject's personal data was erased.
        public var reason: CaseText?
        public var requestedServices: [RequestedService]
        public var urgency: Urgency
        public var due: Date
    }

    /// Receive, accept, decline (reason), complete (outcome), fail (reason), withdraw,
    /// entered in error (reason): one shape, the event type says which.
    public struct ReferralStep: Hashable, Codable, Sendable {
        public var referral: ReferralID
        public var by: InstitutionID
        /// The reason for a decline, failure, withdrawal or correction; the outcome of a completion.
        public var note: CaseText?
    }

    public struct ConferenceScheduled: Hashable, Codable, Sendable {
        public var conference: ConferenceID
        public var convenor: InstitutionID
        public var at: Date
        public var invited: [InstitutionID]
    }

    public struct ConferenceHeld: Hashable, Codable, Sendable {
        public var conference: ConferenceID
        public var attended: [InstitutionID]
    }

    public struct DecisionRecorded: Hashable, Codable, Sendable {
        public var conference: ConferenceID
        public var decision: DecisionID
        public var type: DecisionType
        public var responsible: InstitutionID
        public var due: Date?
        public var note: CaseText?
    }

    public struct DecisionImplemented: Hashable, Codable, Sendable {
        public var decision: DecisionID
        public var by: InstitutionID
        public var note: CaseText?
    }

    public struct ConferenceCancelled: Hashable, Codable, Sendable {
        public var conference: ConferenceID
        public var reason: CaseText?
    }

    public struct IdentificationConcluded: Hashable, Codable, Sendable {
        public var outcome: IdentificationOutcome
        public var note: CaseText?
        /// The person concluded about; nil: every person of the case (all a report could be
        /// about before reports named several people).
        public var subject: SubjectID? = nil
    }

    public struct AssistanceProvided: Hashable, Codable, Sendable {
        public var kind: AssistanceKind
        public var provider: InstitutionID
        public var note: CaseText?
        /// The person assisted; nil: every person of the case.
        public var subject: SubjectID? = nil
    }

    public struct CaseClosed: Hashable, Codable, Sendable {
        public var reason: CaseText?
    }

    public struct CaseReopened: Hashable, Codable, Sendable {
        public var reason: CaseText?
    }

    /// The subject's key was destroyed: the sealed personal data in ``ReportFiled`` can never
    /// be opened again. Statistics and history stay whole.
    public struct PersonalDataErased: Hashable, Codable, Sendable {
        public var subject: SubjectID
        /// The law or decision that requires the erasure, e.g. "GDPR Art. 17(1)(a)".
        public var legalBasis: String
        /// The request or decision it answers, e.g. a case number of the data-protection authority.
        public var reference: String

        public init(subject: SubjectID, legalBasis: String, reference: String) {
            self.subject = subject
            self.legalBasis = legalBasis
            self.reference = reference
        }
    }
}

extension CaseEvent {
    /// The event's type as stored; never renamed once written.
    public var typeName: String {
        switch self {
        case .reportFiled: "ReportFiled"
        case .reportAcknowledged: "ReportAcknowledged"
        case .reportTriaged: "ReportTriaged"
        case .referralSent: "ReferralSent"
        case .referralReceived: "ReferralReceived"
        case .referralAccepted: "ReferralAccepted"
        case .referralDeclined: "ReferralDeclined"
        case .referralCompleted: "ReferralCompleted"
        case .referralFailed: "ReferralFailed"
        case .referralWithdrawn: "ReferralWithdrawn"
        case .referralEnteredInError: "ReferralEnteredInError"
        case .conferenceScheduled: "ConferenceScheduled"
        case .conferenceHeld: "ConferenceHeld"
        case .decisionRecorded: "DecisionRecorded"
        case .decisionImplemented: "DecisionImplemented"
        case .conferenceCancelled: "ConferenceCancelled"
        case .identificationConcluded: "IdentificationConcluded"
        case .assistanceProvided: "AssistanceProvided"
        case .caseClosed: "CaseClosed"
        case .caseReopened: "CaseReopened"
        case .personalDataErased: "PersonalDataErased"
        }
    }

    /// The version each type is written in, and the way from each older one. A change to a
    /// payload's shape raises its type's version here and adds its upcaster (README, "Changing
    /// an event"); the event corpus under `Tests/EventCorpus` must still decode.
    public static let schemas = EventSchemas(
        family: "case",
        [
            // Version 2: the people a report is about (`subjects`); version 1 named one person,
            // as `subject` with its `personalData` beside it.
            "ReportFiled": .init(
                current: 2,
                upcasters: [
                    1: { payload in
                        var payload = payload
                        var subject: JSONValue = .object(["profile": payload["subject"] ?? .null])
                        if let sealed = payload["personalData"], sealed != .null { subject["personalData"] = sealed }
                        payload["subjects"] = .array([subject])
                        payload["subject"] = nil
                        payload["personalData"] = nil
                        return payload
                    }
                ]
            ),
            "ReportAcknowledged": .init(current: 1),
            // Version 2: texts sealed under the subject's key (``CaseText``), requested services
            // from a code list (``RequestedService``); version 1 held both in the clear.
            "ReportTriaged": texts(["note"]),
            "ReferralSent": .init(
                current: 2,
                upcasters: [
                    1: { payload in
                        var payload = try clearTexts(["reason"])(payload)
                        if case .array(let services) = payload["requestedServices"] {
                            payload["requestedServices"] = .array(
                                services.map { service in
                                    guard case .string(let text) = service else { return .string(RequestedService.other.rawValue) }
                                    return .string((RequestedService(rawValue: text) ?? .other).rawValue)
                                }
                            )
                        }
                        return payload
                    }
                ]
            ),
            "ReferralReceived": texts(["note"]),
            "ReferralAccepted": texts(["note"]),
            "ReferralDeclined": texts(["note"]),
            "ReferralCompleted": texts(["note"]),
            "ReferralFailed": texts(["note"]),
            "ReferralWithdrawn": texts(["note"]),
            "ReferralEnteredInError": texts(["note"]),
            "ConferenceScheduled": .init(current: 1),
            "ConferenceHeld": .init(current: 1),
            "DecisionRecorded": texts(["note"]),
            "DecisionImplemented": texts(["note"]),
            "ConferenceCancelled": texts(["reason"]),
            "IdentificationConcluded": texts(["note"]),
            "AssistanceProvided": texts(["note"]),
            "CaseClosed": texts(["reason"]),
            "CaseReopened": texts(["reason"]),
            "PersonalDataErased": .init(current: 1),
        ]
    )

    /// Version 2 of a type whose only change from version 1 is that its texts are sealed.
    private static func texts(_ fields: [String]) -> EventSchemas.Schema {
        .init(current: 2, upcasters: [1: clearTexts(fields)])
    }

    /// The version this event is written in.
    public var schemaVersion: Int32 { Self.schemas.current(typeName) }

    public func encodePayload(with encoder: JSONEncoder) throws -> Data {
        switch self {
        case .reportFiled(let e): try encoder.encode(e)
        case .reportAcknowledged(let e): try encoder.encode(e)
        case .reportTriaged(let e): try encoder.encode(e)
        case .referralSent(let e): try encoder.encode(e)
        case .referralReceived(let e), .referralAccepted(let e), .referralDeclined(let e), .referralCompleted(let e),
            .referralFailed(let e), .referralWithdrawn(let e), .referralEnteredInError(let e):
            try encoder.encode(e)
        case .conferenceScheduled(let e): try encoder.encode(e)
        case .conferenceHeld(let e): try encoder.encode(e)
        case .decisionRecorded(let e): try encoder.encode(e)
        case .decisionImplemented(let e): try encoder.encode(e)
        case .conferenceCancelled(let e): try encoder.encode(e)
        case .identificationConcluded(let e): try encoder.encode(e)
        case .assistanceProvided(let e): try encoder.encode(e)
        case .caseClosed(let e): try encoder.encode(e)
        case .caseReopened(let e): try encoder.encode(e)
        case .personalDataErased(let e): try encoder.encode(e)
        }
    }

    public enum DecodingProblem: Error, CustomStringConvertible {
        case unknownType(String)
        public var description: String {
            switch self {
            case .unknownType(let type): "'\(type)' is not a case event type"
            }
        }
    }

    /// Decodes a stored event of any past version of its type (upcast to the current shape first).
    public init(typeName: String, schemaVersion: Int32, payload stored: Data, decoder: JSONDecoder) throws {
        let payload = try Self.schemas.upcast(type: typeName, version: schemaVersion, payload: stored)
        func d<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(type, from: payload) }
        switch typeName {
        case "ReportFiled": self = .reportFiled(try d(ReportFiled.self))
        case "ReportAcknowledged": self = .reportAcknowledged(try d(ReportAcknowledged.self))
        case "ReportTriaged": self = .reportTriaged(try d(ReportTriaged.self))
        case "ReferralSent": self = .referralSent(try d(ReferralSent.self))
        case "ReferralReceived": self = .referralReceived(try d(ReferralStep.self))
        case "ReferralAccepted": self = .referralAccepted(try d(ReferralStep.self))
        case "ReferralDeclined": self = .referralDeclined(try d(ReferralStep.self))
        case "ReferralCompleted": self = .referralCompleted(try d(ReferralStep.self))
        case "ReferralFailed": self = .referralFailed(try d(ReferralStep.self))
        case "ReferralWithdrawn": self = .referralWithdrawn(try d(ReferralStep.self))
        case "ReferralEnteredInError": self = .referralEnteredInError(try d(ReferralStep.self))
        case "ConferenceScheduled": self = .conferenceScheduled(try d(ConferenceScheduled.self))
        case "ConferenceHeld": self = .conferenceHeld(try d(ConferenceHeld.self))
        case "DecisionRecorded": self = .decisionRecorded(try d(DecisionRecorded.self))
        case "DecisionImplemented": self = .decisionImplemented(try d(DecisionImplemented.self))
        case "ConferenceCancelled": self = .conferenceCancelled(try d(ConferenceCancelled.self))
        case "IdentificationConcluded": self = .identificationConcluded(try d(IdentificationConcluded.self))
        case "AssistanceProvided": self = .assistanceProvided(try d(AssistanceProvided.self))
        case "CaseClosed": self = .caseClosed(try d(CaseClosed.self))
        case "CaseReopened": self = .caseReopened(try d(CaseReopened.self))
        case "PersonalDataErased": self = .personalDataErased(try d(PersonalDataErased.self))
        default: throw DecodingProblem.unknownType(typeName)
        }
    }
}
