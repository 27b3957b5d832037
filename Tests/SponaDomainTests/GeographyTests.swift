import Foundation
import Testing

@testable import SponaDomain

@Suite("The geography the project ships")
struct GeographyTests {
    @Test("24 districts and the City of Belgrade; 171 cities, municipalities and city municipalities")
    func counts() {
        #expect(geography.districts.count == 25)
        #expect(geography.districts.first?.code.rawValue == "RS-00")
        #expect(geography.municipalities.count == 171)
        #expect(geography.municipalities.filter { $0.kind == .cityMunicipality }.count == 26)
        #expect(Set(geography.municipalities.map(\.code)).count == 171)
    }

    @Test("every one of the 110 places of the 2025 report resolves to one municipality")
    func placesOf2025Report() throws {
        let places = try CSVTable(parsing: text("Tests/SponaDomainTests/Fixtures/places-2025.csv"))
        #expect(places.rows.count == 110)
        var resolved = Set<MunicipalityCode>()
        for place in places.rows {
            let parent = place["parent_municipality_lat"]!.isEmpty ? nil : place["parent_municipality_lat"]
            let byLatin = geography.resolve(name: place["name_lat"]!, within: parent)
            let byCyrillic = geography.resolve(name: place["name_cyr"]!, within: parent)
            #expect(byLatin != nil, "\(place["name_lat"]!)")
            #expect(byLatin == byCyrillic, "\(place["name_lat"]!)")
            if let municipality = byLatin {
                resolved.insert(municipality.code)
                let district = geography.district(municipality.district)
                #expect(district?.nameLatin == place["district_lat"], "\(place["name_lat"]!) is in \(district?.nameLatin ?? "?")")
            }
        }
        // Sremska Kamenica is a settlement of Novi Sad, which the report also lists.
        #expect(resolved.count == 109)
    }

    @Test("names two places share need their city; settlements resolve through aliases")
    func ambiguityAndAliases() {
        #expect(geography.resolve(name: "Palilula") == nil)
        #expect(geography.resolve(name: "Palilula", within: "Niš")?.code.rawValue == "nis-palilula")
        #expect(geography.resolve(name: "Палилула", within: "Београд")?.code.rawValue == "beograd-palilula")
        #expect(geography.resolve(name: "Сремска Каменица")?.code.rawValue == "novi-sad")
        #expect(geography.resolve(name: "niška banja")?.code.rawValue == "nis-niska-banja")
        #expect(geography.resolve(name: "Čačak")?.nameCyrillic == "Чачак")
    }

    @Test("broken reference files are refused with the line and the reason")
    func brokenFiles() throws {
        #expect(throws: CSVTable.ParseError.wrongFieldCount(line: 3, expected: 2, found: 3)) {
            try CSVTable(parsing: "a,b\n1,2\n1,2,3\n")
        }
        #expect(throws: CSVTable.ParseError.unterminatedQuote(line: 2)) { try CSVTable(parsing: "a\n\"open\n") }
        let quoted = try CSVTable(parsing: "a,b\n\"x, \"\"y\"\"\",2\n")
        #expect(quoted.rows == [["a": "x, \"y\"", "b": "2"]])
        #expect(throws: Geography.LoadError.unknownDistrict(municipality: "x", district: "RS-99")) {
            try Geography(
                districtsCSV: "code,name_lat,name_cyr\nRS-01,A,А\n",
                municipalitiesCSV: "code,district,kind,name_lat,name_cyr,parent\nx,RS-99,city,X,Х,\n",
                aliasesCSV: "alias_lat,alias_cyr,municipality\n"
            )
        }
    }
}
