/// The system an institution belongs to. Reports, referrals and trainings are counted by it,
/// because the network's weak spots are sectors (health and education report little although
/// their clients are at high risk) as much as places.
public enum Sector: String, CaseIterable, Codable, CodingKeyRepresentable, Sendable, Hashable {
    case socialProtection = "social_protection"
    case police
    case prosecution
    case judiciary
    case education
    case health
    case ngo
    case redCross = "red_cross"
    case localGovernment = "local_government"
    /// The Commissariat for Refugees and Migration.
    case migration
    /// Labour inspection and the employment service.
    case labour
    case international
    case ombudsman
    case other

    public var nameLatin: String {
        switch self {
        case .socialProtection: "socijalna zaštita"
        case .police: "policija"
        case .prosecution: "tužilaštvo"
        case .judiciary: "pravosuđe"
        case .education: "obrazovanje"
        case .health: "zdravstvo"
        case .ngo: "nevladine organizacije"
        case .redCross: "Crveni krst"
        case .localGovernment: "lokalna samouprava"
        case .migration: "Komesarijat za izbeglice i migracije"
        case .labour: "rad i zapošljavanje"
        case .international: "međunarodne organizacije"
        case .ombudsman: "zaštitnik građana"
        case .other: "ostalo"
        }
    }
}
