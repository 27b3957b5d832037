import Foundation
import Hummingbird
import SponaApplication
import SponaDomain

/// A case as the API shows it (`#/components/schemas/Case`). Apart from the domain's ``Case``
/// so that a field added to the domain never changes the API by itself: each field here is
/// chosen, and checked against the OpenAPI document by every HTTP test.
struct CaseResource: ResponseEncodable {
    var id: CaseID
    var status: String
    var filedAt: Date
    var report: Report
    /// `present`, `none` or `erased`: the sealed data itself is read, with a reason, at
    /// `/personal-data`.
    var personalData: String
    var personalDataErasedAt: Date?
    /// Every person the report is about, the first named first: whether their personal data
    /// is held or erased, and the latest identification concluded about them.
    var subjects: [SubjectStatus]
    /// Whether the notes and reasons below are shown (``CaseService/TextAccess``); when they
    /// are not, they are left out.
    var texts: String
    var acknowledgedAt: Date?
    var triage: Triage?
    var referrals: [Referral]
    var conferences: [Conference]
    var decisions: [Decision]
    var identification: IdentificationOutcome?
    var assistance: [Assistance]
    var closedAt: Date?
    var closeReason: String?
    /// Sorted: the same case always gives the same bytes.
    var parties: [InstitutionID]
    var version: Int64

    struct Report: Encodable {
        var caseID: CaseID
        var reportingInstitution: InstitutionID
        var municipality: MunicipalityCode
        var channel: ReportChannel
        var subject: Subject
        /// Everyone else the report is about; absent when it is about one person.
        var otherSubjects: [Subject]?
        var locations: [Place]
        var exploitation: [ExploitationForm]
        var indicators: [IndicatorID]
        var risk: Risk
        var urgency: Urgency
        var reporterTrained: Bool
    }

    struct Subject: Encodable {
        var id: SubjectID
        var ageGroup: AgeGroup
        var gender: Gender
        var citizenship: String?
        var isMigrant: Bool
        var vulnerableGroups: [String]
    }

    struct SubjectStatus: Encodable {
        var id: SubjectID
        /// `present`, `none` or `erased`.
        var personalData: String
        var personalDataErasedAt: Date?
        var identification: IdentificationOutcome?
    }

    struct Place: Encodable {
        var role: Location.Role
        var municipality: MunicipalityCode?
        var country: String?
    }

    struct Risk: Encodable {
        var catalogueVersion: String
        var ruleVersion: String
        var level: RiskLevel
        var elementsPresent: [IndicatorElement]
        var possibleVictim: Bool
    }

    struct Triage: Encodable {
        var confirmedRisk: RiskLevel
        var caseManager: String
        var note: String?
    }

    struct Referral: Encodable {
        var id: ReferralID
        var from: InstitutionID
        var to: InstitutionID
        var reason: String?
        var requestedServices: [RequestedService]
        var urgency: Urgency
        var due: Date
        var sentAt: Date
        var status: String
        var statusChangedAt: Date
        var note: String?
    }

    struct Conference: Encodable {
        var id: ConferenceID
        var convenor: InstitutionID
        var at: Date
        var invited: [InstitutionID]
        var attended: [InstitutionID]
        var status: String
        var statusChangedAt: Date
    }

    struct Decision: Encodable {
        var id: DecisionID
        var conference: ConferenceID
        var type: DecisionType
        var responsible: InstitutionID
        var due: Date?
        var note: String?
        var implementedAt: Date?
    }

    struct Assistance: Encodable {
        var kind: AssistanceKind
        var provider: InstitutionID
        var at: Date
        /// The person assisted; absent: every person of the case.
        var subject: SubjectID?
    }
}

extension CaseResource.Subject {
    init(_ profile: SubjectProfile) {
        self.init(
            id: profile.id,
            ageGroup: profile.ageGroup,
            gender: profile.gender,
            citizenship: profile.citizenship,
            isMigrant: profile.isMigrant,
            vulnerableGroups: profile.vulnerableGroups
        )
    }
}

extension CaseResource {
    /// The case as `caller` is shown it: its texts opened for those who may read them.
    init(_ snapshot: CaseSnapshot, caller: Caller, cases: CaseService) async {
        let (state, access) = await cases.openTexts(of: snapshot.case, for: caller)
        self.init(state, texts: access)
    }

    /// The case with its texts as they are: shown when written now or recorded in the clear,
    /// left out when sealed.
    init(_ state: Case, texts access: CaseService.TextAccess) {
        let report = state.report
        self.init(
            id: state.id,
            status: state.status.rawValue,
            filedAt: state.filedAt,
            report: Report(
                caseID: report.caseID,
                reportingInstitution: report.reportingInstitution,
                municipality: report.municipality,
                channel: report.channel,
                subject: Subject(report.subject),
                otherSubjects: report.subjects.count > 1 ? report.subjects.dropFirst().map { Subject($0.profile) } : nil,
                locations: report.locations.map { Place(role: $0.role, municipality: $0.municipality, country: $0.country) },
                exploitation: report.exploitation,
                indicators: report.indicators,
                risk: Risk(
                    catalogueVersion: report.risk.catalogueVersion,
                    ruleVersion: report.risk.ruleVersion,
                    level: report.risk.level,
                    elementsPresent: report.risk.elementsPresent,
                    possibleVictim: report.risk.possibleVictim
                ),
                urgency: report.urgency,
                reporterTrained: report.reporterTrained
            ),
            personalData: state.personalDataErasedAt != nil ? "erased" : (report.personalData != nil ? "present" : "none"),
            personalDataErasedAt: state.personalDataErasedAt,
            subjects: report.subjects.map { person in
                SubjectStatus(
                    id: person.id,
                    personalData: state.erasures[person.id] != nil ? "erased" : (person.personalData != nil ? "present" : "none"),
                    personalDataErasedAt: state.erasures[person.id],
                    identification: state.outcomes[person.id]
                )
            },
            texts: access.rawValue,
            acknowledgedAt: state.acknowledgedAt,
            triage: state.triage.map { Triage(confirmedRisk: $0.confirmedRisk, caseManager: $0.caseManager, note: $0.note?.plain) },
            referrals: state.referrals.map {
                Referral(
                    id: $0.id,
                    from: $0.from,
                    to: $0.to,
                    reason: $0.reason?.plain,
                    requestedServices: $0.requestedServices,
                    urgency: $0.urgency,
                    due: $0.due,
                    sentAt: $0.sentAt,
                    status: $0.status.rawValue,
                    statusChangedAt: $0.statusChangedAt,
                    note: $0.note?.plain
                )
            },
            conferences: state.conferences.map {
                Conference(
                    id: $0.id,
                    convenor: $0.convenor,
                    at: $0.at,
                    invited: $0.invited,
                    attended: $0.attended,
                    status: $0.status.rawValue,
                    statusChangedAt: $0.statusChangedAt
                )
            },
            decisions: state.decisions.map {
                Decision(
                    id: $0.id,
                    conference: $0.conference,
                    type: $0.type,
                    responsible: $0.responsible,
                    due: $0.due,
                    note: $0.note?.plain,
                    implementedAt: $0.implementedAt
                )
            },
            identification: state.identification,
            assistance: state.assistance.map { Assistance(kind: $0.kind, provider: $0.provider, at: $0.at, subject: $0.subject) },
            closedAt: state.closedAt,
            closeReason: state.closeReason?.plain,
            parties: state.parties.sorted(),
            version: state.version
        )
    }
}
