import Testing
@testable import PingRollCore

@Suite struct BetaRulesTests {
    static let rules: [EnrollmentStatus: Set<EnrollmentStatus>] = [
        .interested: [.enrolled, .withdrawn, .blocked],
        .enrolled: [.importing, .withdrawn, .blocked],
        .importing: [.migrated, .withdrawn, .blocked],
        .migrated: [.withdrawn],
        .withdrawn: [.enrolled],
    ]

    func enrollment(in status: EnrollmentStatus, blockedFrom: EnrollmentStatus? = nil) -> Enrollment {
        var e = Enrollment(program: "p", organization: "Org", contactName: "Ann", contactEmail: "ann@example.com")
        e.status = status
        e.blockedFrom = blockedFrom
        return e
    }

    /// Every (from, to) pair, including blocked from each status it can be blocked from.
    @Test func everyTransitionFollowsTheTableExactly() throws {
        var starts: [(EnrollmentStatus, EnrollmentStatus?)] = Self.rules.keys.map { ($0, nil) }
        starts += [EnrollmentStatus.interested, .enrolled, .importing].map { (.blocked, $0) }
        for (from, blockedFrom) in starts {
            let allowed = from == .blocked ? [blockedFrom!, .withdrawn] : Self.rules[from]!
            for to in EnrollmentStatus.allCases {
                var e = enrollment(in: from, blockedFrom: blockedFrom)
                let result = Result { () throws(EnrollmentError) in try e.apply(["status": .text(to.rawValue)]) }
                if to == from {
                    #expect((try? result.get())?.isEmpty == true, "\(from) → \(from) changes nothing")
                } else if allowed.contains(to) {
                    #expect((try? result.get())?.first?.field == "status", "\(from) → \(to) is allowed")
                    #expect(e.status == to && e.blockedFrom == (to == .blocked ? from : nil))
                } else {
                    guard case .failure(let error) = result else { Issue.record("\(from) → \(to) must be refused"); continue }
                    #expect(Set(error.allowed ?? []) == allowed && error.message.contains("allowed"))
                }
            }
        }
    }

    @Test func aNewEnrollmentStartsInterestedOrEnrolled() throws {
        var e = enrollment(in: .interested)
        _ = try e.apply(["status": .text("enrolled")], creating: true)
        #expect(e.status == .enrolled)
        #expect(throws: EnrollmentError.self) { var x = enrollment(in: .interested); _ = try x.apply(["status": .text("migrated")], creating: true) }
    }

    @Test func fieldsAreValidatedAndChangesReported() throws {
        var e = enrollment(in: .interested)
        let changes = try e.apply(["registry_size_bytes": .text("2TiB"), "storage_driver": .text("s3"), "backup_taken": .text("yes"),
                                   "registry_nodes": .number(3), "uuid": .text("u-1"), "hostname": .text("Reg.Example.com")])
        #expect(e.registrySizeBytes == 2 * 1_099_511_627_776 && e.storageDriver == "s3" && e.backupTaken == true && e.hostname == "reg.example.com")
        #expect(changes.map(\.field) == ["uuid", "hostname", "registry_size_bytes", "storage_driver", "registry_nodes", "backup_taken"])
        for (field, value) in [("contact_email", FieldInput.text("not-an-email")), ("storage_driver", .text("ftp")), ("registry_nodes", .number(0)),
                               ("import_mode", .text("two-step")), ("organization", .text(" ")), ("organization", .text("\u{0C}\u{A0}")),
                               ("contact_name", .text("\u{2003}")), ("nope", .text("x")),
                               ("registry_size_bytes", .text("lots")), ("geo_enabled", .text("maybe"))] {
            var copy = e
            #expect { _ = try copy.apply([field: value]) } throws: { ($0 as? EnrollmentError)?.field == field }
        }
    }

    @Test func sizesParseInDecimalAndBinaryUnits() {
        #expect(BetaValidation.parseSize("500GB") == 500_000_000_000)
        #expect(BetaValidation.parseSize("2 TiB") == 2_199_023_255_552)
        #expect(BetaValidation.parseSize("1.5tb") == 1_500_000_000_000)
        #expect(BetaValidation.parseSize("123") == 123)
        #expect(BetaValidation.parseSize("-5GB") == nil && BetaValidation.parseSize("GB") == nil && BetaValidation.parseSize("1e3") == nil)
    }

    @Test func emailsAreChecked() {
        #expect(BetaValidation.isEmail("pm@gitlab.example.com"))
        for bad in ["", "a", "a@b", "a@@b.com", "a b@c.com", "@c.com", "a@.com", "a@c.c"] { #expect(!BetaValidation.isEmail(bad), "\(bad)") }
    }

    @Test func cohortDayRangesAreBoundedAndMatchingNeverOverflows() throws {
        #expect(throws: QueryError.self) { try CohortFilter.parse([("last_ping_within_days", "106751991168")]) }
        #expect(throws: QueryError.self) { try CohortFilter.parse([("last_ping_within_days", "-1")]) }
        var f = try CohortFilter.parse([("last_ping_within_days", "36500")])
        #expect(f.lastPingWithinDays == 36500)
        f.lastPingWithinDays = Int.max  // as a filter built in code could hold
        let x = Enrollment(program: "p", organization: "O", contactName: "C", contactEmail: "c@o.example")
        #expect(f.matches(x, dbEnabled: nil, lastPingAt: Timestamp(milliseconds: .min), now: Timestamp(milliseconds: .max)) == false)
        #expect(f.matches(x, dbEnabled: nil, lastPingAt: Timestamp(milliseconds: 0), now: Timestamp(milliseconds: 1)))
    }
}

@Suite struct CohortTextTests {
    @Test func filterValuesSplitOnCommasEvenBeforeCombiningMarksAndReadBackTheSame() throws {
        // "a,\u{301}b": a Character split sees ",\u{301}" as one character and does not split.
        let f = try CohortFilter.parse([("phase", "a,\u{301}b , c\r\n")])
        #expect(f.phase == ["a", "\u{301}b", "c"])
        #expect(try CohortFilter.parse(f.queryText) == f)
    }

    @Test func asciiWhitespaceIsTrimmedByScalarSoCRLFGoesToo() {
        #expect(" x \r\n".trimmingASCIIWhitespace() == "x")
        #expect("\r\n\t".trimmingASCIIWhitespace() == "")
    }
}

@Suite struct FeedbackRulesTests {
    let x: Enrollment = {
        var e = Enrollment(program: "p", organization: "O", contactName: "A", contactEmail: "a@x.example")
        e.id = 7
        return e
    }()

    @Test(arguments: [
        (["category": FieldInput.text("docs"), "rating": .number(3), "text": .text("ok"), "colour": .text("x")], "colour"),
        (["category": .text("nope"), "rating": .number(3), "text": .text("ok")], "category"),
        (["category": .text("docs"), "rating": .number(3.5), "text": .text("ok")], "rating"),
        (["category": .text("docs"), "rating": .number(3), "text": .text("  ")], "text"),
        (["category": .text("docs"), "rating": .number(3), "text": .text("\u{0C}\u{A0}\u{2003}")], "text"),
        (["category": .text("docs"), "rating": .number(3), "text": .text("ok"), "issue_url": .text("javascript:alert(1)")], "issue_url"),
    ] as [([String: FieldInput], String)])
    func feedbackNamesTheFieldThatIsWrong(inputs: [String: FieldInput], field: String) {
        #expect(throws: EnrollmentError.self) { try Feedback(x, inputs, at: .now(), tokenName: "t") }
        do { _ = try Feedback(x, inputs, at: .now(), tokenName: "t") } catch { #expect(error.field == field) }
    }

    @Test func validFeedbackKeepsItsFields() throws {
        let f = try Feedback(x, ["category": .text("bug"), "rating": .number(5), "text": .text("fine"), "issue_url": .text("https://gitlab.com/a/-/issues/1")],
                             at: Timestamp(milliseconds: 0), tokenName: "t")
        #expect(f.enrollmentID == 7 && f.program == "p" && f.rating == 5 && f.issueURL == "https://gitlab.com/a/-/issues/1")
    }
}
