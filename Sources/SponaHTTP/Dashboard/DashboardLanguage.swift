import Foundation
import SponaDomain
import SponaProjections

/// The dashboard's languages: Serbian in Cyrillic (the official script, the default), Serbian
/// in Latin, and English. Every name (municipalities, districts, sectors) is shown in the
/// chosen script; English uses the names' Latin form, as the reference data has no English
/// names of places.
enum DashboardLanguage: String, CaseIterable, Sendable {
    case cyrillic = "sr-Cyrl"
    case latin = "sr-Latn"
    case english = "en"

    /// The language's own name, as the switch shows it.
    var ownName: String {
        switch self {
        case .cyrillic: "Ћирилица"
        case .latin: "Latinica"
        case .english: "English"
        }
    }

    /// Whether the API's `names=cyrillic` is wanted.
    var cyrillicNames: Bool { self == .cyrillic }

    /// A phrase written in Serbian Latin and English; Cyrillic is its transliteration.
    func say(_ phrase: Phrase) -> String {
        switch self {
        case .english: phrase.english
        case .latin: phrase.latin
        case .cyrillic: Self.cyrillic(phrase.latin)
        }
    }

    /// A Serbian Latin name in this language's script (sectors' names, for instance).
    func name(latin: String) -> String { self == .cyrillic ? Self.cyrillic(latin) : latin }

    /// A sector's name in this language.
    func name(_ sector: Sector) -> String {
        switch self {
        case .english: sector.nameEnglish
        case .latin: sector.nameLatin
        case .cyrillic: Self.cyrillic(sector.nameLatin)
        }
    }

    /// What a breakdown breaks reports down by, in this language.
    func name(dimension: Breakdown.Dimension) -> String {
        let phrase: Phrase =
            switch dimension {
            case .gender: Phrase("Prijave po polu", "Reports by gender")
            case .ageGroup: Phrase("Prijave po uzrastu", "Reports by age group")
            case .exploitation: Phrase("Prijave po obliku eksploatacije", "Reports by form of exploitation")
            case .outcome: Phrase("Ishodi identifikacije", "Outcomes of identification")
            case .assistance: Phrase("Pomoć po vrsti (osobe)", "Assistance by kind (persons)")
            case .identifiedByGender: Phrase("Identifikovane žrtve po polu", "Identified victims by gender")
            case .identifiedByAgeGroup: Phrase("Identifikovane žrtve po uzrastu", "Identified victims by age group")
            case .identifiedByExploitation: Phrase("Identifikovane žrtve po obliku eksploatacije", "Identified victims by form of exploitation")
            case .assistedByGender: Phrase("Osobe kojima je pružena pomoć, po polu", "Persons assisted, by gender")
            case .assistedByAgeGroup: Phrase("Osobe kojima je pružena pomoć, po uzrastu", "Persons assisted, by age group")
            case .reporterSector: Phrase("Prijave po sektoru prijavioca", "Reports by the reporter's sector")
            case .referrals: Phrase("Upućivanja po koracima", "Referrals by step")
            case .conferences: Phrase("Sastanci tima za slučaj", "Case conferences")
            case .decisions: Phrase("Odluke po vrsti", "Decisions by type")
            case .decisionsImplemented: Phrase("Sprovedene odluke, na vreme i sa zakašnjenjem", "Decisions implemented, on time and late")
            case .acknowledgementTime: Phrase("Vreme od prijave do potvrde prijema", "Time from report to acknowledgement")
            case .acceptanceTime: Phrase("Vreme od upućivanja do prihvatanja", "Time from referral to acceptance")
            case .reporterTraining:
                Phrase("Prijave obučenih: po pohađanju obuke i po izjavi", "Reports by trained staff: by attendance and by statement")
            }
        return say(phrase)
    }

    /// A value of a breakdown (a gender, an age group, a form, an outcome, a kind of
    /// assistance, a sector) in this language.
    func name(value: String, of dimension: Breakdown.Dimension) -> String {
        if dimension == .reporterSector { return Sector(rawValue: value).map { name($0) } ?? value }
        let phrase: Phrase? =
            switch value {
            case "female": Phrase("Ženski", "Female")
            case "male": Phrase("Muški", "Male")
            case "other":
                dimension == .gender || dimension == .identifiedByGender || dimension == .assistedByGender
                    ? Phrase("Drugo", "Other") : Phrase("Ostalo", "Other")
            case "unknown": Phrase("Nepoznato", "Unknown")
            case "child_0_13": Phrase("Deca 0–13", "Children 0–13")
            case "child_14_17": Phrase("Deca 14–17", "Children 14–17")
            case "adult_18_25": Phrase("Odrasli 18–25", "Adults 18–25")
            case "adult_26_plus": Phrase("Odrasli 26+", "Adults 26+")
            case "sexual": Phrase("Seksualna", "Sexual")
            case "labour": Phrase("Radna", "Labour")
            case "begging": Phrase("Prosjačenje", "Begging")
            case "criminality": Phrase("Prinuda na kriminal", "Forced criminality")
            case "forced_marriage": Phrase("Prinudni brak", "Forced marriage")
            case "identified_victim": Phrase("Identifikovana žrtva", "Identified victim")
            case "at_risk_prevention": Phrase("U riziku, prevencija", "At risk, prevention")
            case "not_a_victim": Phrase("Nije žrtva", "Not a victim")
            case "information": Phrase("Informisanje", "Information")
            case "counselling": Phrase("Savetovanje", "Counselling")
            case "shelter": Phrase("Smeštaj", "Shelter")
            case "health": Phrase("Zdravstvena", "Health")
            case "legal": Phrase("Pravna", "Legal")
            case "financial": Phrase("Materijalna", "Financial")
            case "education": Phrase("Obrazovanje", "Education")
            case "employment": Phrase("Zapošljavanje", "Employment")
            case "reintegration": Phrase("Reintegracija", "Reintegration")
            case "received": Phrase("Primljena", "Received")
            case "accepted": Phrase("Prihvaćena", "Accepted")
            case "declined": Phrase("Odbijena", "Declined")
            case "completed": Phrase("Završena", "Completed")
            case "failed": Phrase("Neuspela", "Failed")
            case "withdrawn": Phrase("Povučena", "Withdrawn")
            case "scheduled": Phrase("Zakazani", "Scheduled")
            case "held": Phrase("Održani", "Held")
            case "cancelled": Phrase("Otkazani", "Cancelled")
            case "on_time": Phrase("Na vreme", "On time")
            case "late": Phrase("Sa zakašnjenjem", "Late")
            case "under_1h": Phrase("Do 1 sata", "Under 1 hour")
            case "1h_to_4h": Phrase("1–4 sata", "1–4 hours")
            case "4h_to_24h": Phrase("4–24 sata", "4–24 hours")
            case "1d_to_3d": Phrase("1–3 dana", "1–3 days")
            case "3d_to_7d": Phrase("3–7 dana", "3–7 days")
            case "over_7d": Phrase("Preko 7 dana", "Over 7 days")
            case "attended_and_stated": Phrase("Pohađali obuku i izjavili", "Attended and stated")
            case "attended_only": Phrase("Pohađali obuku, bez izjave", "Attended, not stated")
            case "stated_only": Phrase("Izjavili, bez zabeleženog pohađanja", "Stated, no attendance recorded")
            case "neither": Phrase("Ni jedno ni drugo", "Neither")
            case "shelter_placement": Phrase("Smeštaj u sklonište", "Shelter placement")
            case "testimony_by_video_link": Phrase("Svedočenje putem video-veze", "Testimony by video link")
            case "prevention_programme": Phrase("Program prevencije", "Prevention programme")
            case "lead_institution": Phrase("Vodeća ustanova", "Lead institution")
            case "health_care": Phrase("Zdravstvena zaštita", "Health care")
            case "legal_aid": Phrase("Pravna pomoć", "Legal aid")
            case "schooling": Phrase("Školovanje", "Schooling")
            default: nil
            }
        return phrase.map(say) ?? value
    }

    /// "2026-11" as "новембар 2026.", "novembar 2026." or "November 2026".
    func month(_ month: String) -> String {
        let parts = month.split(separator: "-")
        guard parts.count == 2, let number = Int(parts[1]), (1...12).contains(number) else { return month }
        let serbian = [
            "januar", "februar", "mart", "april", "maj", "jun", "jul", "avgust", "septembar", "oktobar", "novembar", "decembar",
        ]
        let english = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
        ]
        switch self {
        case .english: return "\(english[number - 1]) \(parts[0])"
        case .latin: return "\(serbian[number - 1]) \(parts[0])."
        case .cyrillic: return Self.cyrillic("\(serbian[number - 1]) \(parts[0]).")
        }
    }

    /// "2025-03-27" as "27. mart 2025." (Serbian) or "27 March 2025".
    func date(_ day: String) -> String {
        let parts = day.split(separator: "-")
        guard parts.count == 3, let number = Int(parts[2]) else { return day }
        let monthName = month("\(parts[0])-\(parts[1])")
        return self == .english ? "\(number) \(monthName)" : "\(number). \(monthName)"
    }

    /// A short month for charts' axes: "11/26".
    func shortMonth(_ month: String) -> String {
        let parts = month.split(separator: "-")
        guard parts.count == 2 else { return month }
        return "\(parts[1])/\(parts[0].suffix(2))"
    }

    /// A whole number the Serbian way (1.234) or the English way (1,234).
    func number(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { grouped.append(self == .english ? "," : ".") }
            grouped.append(digit)
        }
        return (value < 0 ? "−" : "") + grouped
    }

    /// Serbian Latin to Serbian Cyrillic, letter for letter (lj, nj and dž are one letter each).
    /// Words that are not Serbian stay as they are, as Serbian Cyrillic text writes them:
    /// acronyms and names of settings (CSV, README, SPONA_DASHBOARD_URL) and a few foreign names.
    static func cyrillic(_ latin: String) -> String {
        var result = ""
        var word = ""
        func flush() {
            result += keptAsWritten(word) ? word : letters(word)
            word = ""
        }
        for character in latin {
            if character.isLetter || character.isNumber || character == "_" {
                word.append(character)
            } else {
                flush()
                result.append(character)
            }
        }
        flush()
        return result
    }

    static let foreignWords: Set<String> = ["Excel", "Spona"]

    static func keptAsWritten(_ word: String) -> Bool {
        word.contains("_") || foreignWords.contains(word) || (word.count > 1 && word.allSatisfy { $0.isUppercase || $0.isNumber })
    }

    static func letters(_ latin: String) -> String {
        let pairs: [(String, String)] = [
            ("Lj", "Љ"), ("LJ", "Љ"), ("lj", "љ"), ("Nj", "Њ"), ("NJ", "Њ"), ("nj", "њ"), ("Dž", "Џ"), ("DŽ", "Џ"), ("dž", "џ"),
        ]
        let single: [Character: Character] = [
            "a": "а", "b": "б", "v": "в", "g": "г", "d": "д", "đ": "ђ", "e": "е", "ž": "ж", "z": "з", "i": "и", "j": "ј",
            "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с", "t": "т", "ć": "ћ", "u": "у",
            "f": "ф", "h": "х", "c": "ц", "č": "ч", "š": "ш",
            "A": "А", "B": "Б", "V": "В", "G": "Г", "D": "Д", "Đ": "Ђ", "E": "Е", "Ž": "Ж", "Z": "З", "I": "И", "J": "Ј",
            "K": "К", "L": "Л", "M": "М", "N": "Н", "O": "О", "P": "П", "R": "Р", "S": "С", "T": "Т", "Ć": "Ћ", "U": "У",
            "F": "Ф", "H": "Х", "C": "Ц", "Č": "Ч", "Š": "Ш",
        ]
        var result = ""
        var rest = Substring(latin)
        outer: while let first = rest.first {
            for (digraph, letter) in pairs where rest.hasPrefix(digraph) {
                result += letter
                rest = rest.dropFirst(digraph.count)
                continue outer
            }
            result.append(single[first] ?? first)
            rest = rest.dropFirst()
        }
        return result
    }

    /// The language a request asks for (`?lang=`), else its cookie, else Cyrillic.
    static func of(query: String?, cookie: String?) -> DashboardLanguage {
        query.flatMap(Self.init(rawValue:)) ?? cookie.flatMap(Self.init(rawValue:)) ?? .cyrillic
    }
}

/// A phrase of the dashboard in Serbian (Latin) and English.
struct Phrase: Sendable {
    var latin: String
    var english: String
    init(_ latin: String, _ english: String) {
        self.latin = latin
        self.english = english
    }

    static let dashboard = Phrase("Spona — pregled", "Spona — dashboard")
    static let skip = Phrase("Pređi na sadržaj", "Skip to content")
    static let overview = Phrase("Pregled", "Overview")
    static let silent = Phrase("Opštine bez prijava", "Silent municipalities")
    static let trainings = Phrase("Obuke", "Trainings")
    static let flows = Phrase("Tokovi upućivanja", "Referral flows")
    static let sectors = Phrase("Sektori", "Sectors")
    static let breakdowns = Phrase("Po kategorijama", "Breakdowns")
    static let breakdownBy = Phrase("Prikaz", "Breakdown")
    static let institutions = Phrase("Ustanove", "Institutions")
    static let reportsByInstitution = Phrase(
        "Prijave po ustanovi prijavioca u izabranom periodu",
        "Reports by reporting institution in the chosen period"
    )
    static let declinedReferrals = Phrase("Odbijena", "Declined")
    static let reportsByDistrict = Phrase("Prijave po okruzima u izabranom periodu", "Reports by district in the chosen period")
    static let reportsByDistrictLastYear = Phrase("Prijave po okruzima, poslednjih 12 meseci", "Reports by district, last 12 months")
    static let mapNote = Phrase(
        "Shematska karta: okruzi su prikazani približno na svom mestu.",
        "Schematic map: districts are drawn roughly where they lie."
    )
    static let signOut = Phrase("Odjava", "Sign out")
    static let signIn = Phrase("Prijava", "Sign in")
    static let signedInAs = Phrase("Prijavljeni ste kao", "Signed in as")
    static let language = Phrase("Jezik i pismo", "Language and script")
    static let district = Phrase("Okrug", "District")
    static let allDistricts = Phrase("Svi okruzi", "All districts")
    static let yourDistricts = Phrase("Svi vaši okruzi", "All your districts")
    static let from = Phrase("Od meseca", "From month")
    static let to = Phrase("Do meseca", "To month")
    static let show = Phrase("Prikaži", "Show")
    static let month = Phrase("Mesec", "Month")
    static let place = Phrase("Mesto", "Place")
    static let name = Phrase("Naziv", "Name")
    static let downloadCSV = Phrase("Preuzmi CSV (zarez)", "Download CSV (comma)")
    static let downloadCSVSemicolon = Phrase("Preuzmi CSV (tačka-zarez, za Excel)", "Download CSV (semicolon, for Excel)")
    static let nothing = Phrase("Nema podataka za ovaj izbor.", "No figures for this choice.")
    static let suppression = Phrase(
        "Mali brojevi su skriveni radi zaštite osoba: „<%d” znači od 1 do %d; ostali brojevi su malo pomereni, pa zbirovi ne otkrivaju skrivene.",
        "Small counts are hidden to protect people: “<%d” means 1 to %d; other figures are slightly perturbed, so that totals give no hidden count back."
    )
    static let reports = Phrase("Prijave", "Reports")
    static let children = Phrase("Deca", "Children")
    static let highRisk = Phrase("Visok rizik", "High risk")
    static let referralsSent = Phrase("Poslata upućivanja", "Referrals sent")
    static let identifiedVictims = Phrase("Identifikovane žrtve", "Identified victims")
    static let reportsByTrained = Phrase("Prijave obučenih", "Reports by trained staff")
    static let periodTotals = Phrase("Ukupno za izabrani period", "Totals for the chosen period")
    static let referralsAndVictims = Phrase("Upućivanja i identifikovane žrtve po mesecima", "Referrals and identified victims month by month")
    static let reportsByMonth = Phrase("Prijave po mesecima", "Reports month by month")
    static let figuresByMonth = Phrase("Pokazatelji po mesecima", "Figures month by month")
    static let reportsByPlace = Phrase("Prijave po opštinama i mesecima", "Reports by municipality and month")
    static let national = Phrase("Srbija", "Serbia")
    static let lastReport = Phrase("Poslednja prijava", "Last report")
    static let never = Phrase("nikad", "never")
    static let hidden = Phrase("skriveno", "hidden")
    static let silentIntro = Phrase(
        "Opštine iz kojih nije stigla nijedna prijava u poslednjih %d meseci.",
        "Municipalities from which no report came in the last %d months."
    )
    static let trainingImpact = Phrase("Obuke i prijave pre i posle", "Trainings and reports before and after")
    static let trainingsCount = Phrase("Obuke", "Trainings")
    static let participants = Phrase("Učesnici", "Participants")
    static let firstTraining = Phrase("Prva obuka", "First training")
    static let reportsBefore = Phrase("Prijave 12 meseci pre", "Reports 12 months before")
    static let reportsAfter = Phrase("Prijave 12 meseci posle", "Reports 12 months after")
    static let trainingList = Phrase("Održane obuke", "Trainings held")
    static let heldOn = Phrase("Datum", "Date")
    static let host = Phrase("Domaćin", "Host")
    static let forPlaces = Phrase("Za opštine", "For municipalities")
    static let fromPlace = Phrase("Odakle", "From")
    static let toPlace = Phrase("Kuda", "To")
    static let cases = Phrase("Slučajevi", "Cases")
    static let placeFlows = Phrase("Upućivanja između mesta", "Referrals between places")
    static let sectorFigures = Phrase("Sektori po mesecima", "Sectors month by month")
    static let sectorFlows = Phrase("Upućivanja između sektora", "Referrals between sectors")
    static let waitingReferrals = Phrase("Gde upućivanja čekaju odgovor", "Where referrals wait for an answer")
    static let openReferrals = Phrase("Otvorena", "Open")
    static let overdueReferrals = Phrase("Prekoračen rok", "Overdue")
    static let sector = Phrase("Sektor", "Sector")
    static let fromSector = Phrase("Iz sektora", "From sector")
    static let toSector = Phrase("U sektor", "To sector")
    static let referrals = Phrase("Upućivanja", "Referrals")
    static let referralsReceived = Phrase("Primljena upućivanja", "Referrals received")
    static let signInTitle = Phrase("Prijava na pregled", "Sign in to the dashboard")
    static let signInText = Phrase(
        "Pregled je za analitičare okruga i Centar za zaštitu žrtava trgovine ljudima. Prijavite se nalogom svoje ustanove.",
        "The dashboard is for district analysts and the Center for Protection of Victims of Trafficking. Sign in with your institution's account."
    )
    static let signInWith = Phrase("Prijavite se nalogom ustanove", "Sign in with your institution's account")
    static let notConfiguredTitle = Phrase("Prijava preko pregledača nije podešena", "Browser sign-in is not set up")
    static let notConfiguredText = Phrase(
        "Ovaj server nema podešenu prijavu preko pregledača. Administrator treba da postavi SPONA_DASHBOARD_URL, SPONA_OIDC_AUTHORIZATION_URL i SPONA_OIDC_TOKEN_URL (vidi README, odeljak za operatere). Pristupni token se nikada ne upisuje u stranicu.",
        "This server has no browser sign-in set up. An operator sets SPONA_DASHBOARD_URL, SPONA_OIDC_AUTHORIZATION_URL and SPONA_OIDC_TOKEN_URL (see the README's operators' section). An access token is never typed into a page."
    )
    static let errorTitle = Phrase("Stranica ne može da se prikaže", "The page cannot be shown")
    static let signedOut = Phrase("Odjavljeni ste.", "You are signed out.")
}

extension Sector {
    /// The sector's name in English, for the dashboard.
    var nameEnglish: String {
        switch self {
        case .socialProtection: "social protection"
        case .police: "police"
        case .prosecution: "prosecution"
        case .judiciary: "judiciary"
        case .education: "education"
        case .health: "health"
        case .ngo: "non-governmental organisations"
        case .redCross: "Red Cross"
        case .localGovernment: "local government"
        case .migration: "Commissariat for Refugees and Migration"
        case .labour: "labour and employment"
        case .international: "international organisations"
        case .ombudsman: "ombudsman"
        case .other: "other"
        }
    }
}
