/// The indicator catalogue, version 2025.1: the checklists of social protection, health,
/// education and police (and the other sectors), in the project's own words.
///
/// Indicator ids are stable within a version; a changed text or strength makes a new version.
extension IndicatorCatalogue {
    public static let v2025_1 = IndicatorCatalogue(
        version: "2025.1",
        indicators: [
            Indicator(
                id: IndicatorID(rawValue: "DR-01"),
                element: .deceptiveRecruitment,
                strength: .strong,
                text: "Was promised a job, schooling or marriage that turned out not to exist or to be something else",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "DR-02"),
                element: .deceptiveRecruitment,
                strength: .medium,
                text: "Was misled about the pay, hours, housing or legal status the work would bring",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "DR-03"),
                element: .deceptiveRecruitment,
                strength: .medium,
                text: "Travel or documents were arranged by someone the person barely knew",
                sectors: [.socialProtection, .police, .ngo, .migration]
            ),
            Indicator(
                id: IndicatorID(rawValue: "DR-04"),
                element: .deceptiveRecruitment,
                strength: .weak,
                text: "Answered an offer made online or through a go-between with no real employer behind it",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "CR-01"),
                element: .coerciveRecruitment,
                strength: .strong,
                text: "Was taken, sold or handed over by others against their will",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "CR-02"),
                element: .coerciveRecruitment,
                strength: .strong,
                text: "Was threatened, or their family was, to make them go",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "CR-03"),
                element: .coerciveRecruitment,
                strength: .medium,
                text: "Identity documents were taken before or during the journey",
                sectors: [.police, .socialProtection, .migration, .ngo, .labour]
            ),
            Indicator(
                id: IndicatorID(rawValue: "CR-04"),
                element: .coerciveRecruitment,
                strength: .medium,
                text: "Took on a debt for the journey or the job that they cannot repay",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "VR-01"),
                element: .recruitmentAbusingVulnerability,
                strength: .medium,
                text: "Left home or care without anyone responsible knowing where they went",
                sectors: [.socialProtection, .education, .health, .police]
            ),
            Indicator(
                id: IndicatorID(rawValue: "VR-02"),
                element: .recruitmentAbusingVulnerability,
                strength: .medium,
                text: "Lives in deep poverty, homelessness or a family in crisis that someone used to draw them in",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "VR-03"),
                element: .recruitmentAbusingVulnerability,
                strength: .weak,
                text: "Has few or no people to turn to: no family support, no school, no friends nearby",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "VR-04"),
                element: .recruitmentAbusingVulnerability,
                strength: .weak,
                text: "Has a disability, an addiction or an illness that makes them depend on others",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "VR-05"),
                element: .recruitmentAbusingVulnerability,
                strength: .medium,
                text: "A much older partner or 'boyfriend' controls their contacts and movements",
                sectors: [.socialProtection, .education, .health, .police, .ngo]
            ),
            Indicator(
                id: IndicatorID(rawValue: "EX-01"),
                element: .exploitativeConditions,
                strength: .strong,
                text: "Is made to sell sex, beg or commit crimes for others",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "EX-02"),
                element: .exploitativeConditions,
                strength: .strong,
                text: "Works without pay, or the pay goes to someone else",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "EX-03"),
                element: .exploitativeConditions,
                strength: .medium,
                text: "Works excessive hours, at night, or in conditions that harm their health",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "EX-04"),
                element: .exploitativeConditions,
                strength: .medium,
                text: "A child who works instead of going to school, or misses school without explanation",
                sectors: [.education, .socialProtection, .health, .police]
            ),
            Indicator(
                id: IndicatorID(rawValue: "EX-05"),
                element: .exploitativeConditions,
                strength: .weak,
                text: "Has money, phones or clothes they could not afford and cannot explain",
                sectors: [.education, .socialProtection, .health]
            ),
            Indicator(
                id: IndicatorID(rawValue: "EX-06"),
                element: .exploitativeConditions,
                strength: .medium,
                text: "Was married, or is about to be, as a child or against their will",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "CD-01"),
                element: .coercionAtDestination,
                strength: .strong,
                text: "Is locked in, watched or not allowed to go out alone",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "CD-02"),
                element: .coercionAtDestination,
                strength: .strong,
                text: "Has been beaten, sexually abused or threatened with violence",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "CD-03"),
                element: .coercionAtDestination,
                strength: .medium,
                text: "Someone else holds their identity documents or money",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "CD-04"),
                element: .coercionAtDestination,
                strength: .medium,
                text: "Is kept in debt that keeps growing",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "CD-05"),
                element: .coercionAtDestination,
                strength: .weak,
                text: "Someone else answers for them, or is present at every conversation",
                sectors: [.health, .socialProtection, .education, .police]
            ),
            Indicator(
                id: IndicatorID(rawValue: "VD-01"),
                element: .abuseOfVulnerabilityAtDestination,
                strength: .medium,
                text: "Does not speak the language, or does not know the address where they live",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "VD-02"),
                element: .abuseOfVulnerabilityAtDestination,
                strength: .medium,
                text: "Fears the police or deportation because of their status",
                sectors: [.police, .migration, .ngo, .socialProtection, .labour]
            ),
            Indicator(
                id: IndicatorID(rawValue: "VD-03"),
                element: .abuseOfVulnerabilityAtDestination,
                strength: .weak,
                text: "Is cut off from family and friends",
                sectors: Set(Sector.allCases)
            ),
            Indicator(
                id: IndicatorID(rawValue: "VD-04"),
                element: .abuseOfVulnerabilityAtDestination,
                strength: .weak,
                text: "Injuries, illnesses or pregnancies are not treated, or are treated late",
                sectors: [.health, .socialProtection]
            ),
        ]
    )

    /// The catalogue new reports are scored with. Older versions stay for replays.
    public static let current = v2025_1

    public static func version(_ version: String) -> IndicatorCatalogue? {
        version == v2025_1.version ? v2025_1 : nil
    }
}
