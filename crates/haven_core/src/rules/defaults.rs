//! The tables every trust starts with, written for Haven from the reference
//! policies' facts (the Acts, the columns, the recommendations of one trust's
//! tables) in Haven's own words. A trust edits its copy; these stay as shipped.

use super::routes::{Recipient as R, ReportMethod as M, ReportingRoute, Timescale};
use super::sanctions::{
    PupilAction as P, PupilSanction, SanctionRow, StaffAction as S, StaffSanction,
};
use super::user_actions::{ActionGroup as G, ActionStatus, UserAction};
use super::{Concern, Involved, RuleTables};
use crate::slug::Slug;

/// The default tables.
pub fn tables() -> RuleTables {
    RuleTables {
        user_actions: user_actions(),
        pupil_sanctions: pupil_sanctions(),
        staff_sanctions: staff_sanctions(),
        reporting_routes: reporting_routes(),
    }
}

fn id(s: &str) -> Slug {
    Slug::parse(s).expect("the default tables use valid slugs (checked by their tests)")
}

const CHILDREN_ACT: &str = "Protection of Children Act 1978";
const SEXUAL_OFFENCES_ACT: &str = "Sexual Offences Act 2003";
const CJI_ACT: &str = "Criminal Justice and Immigration Act 2008";
const PUBLIC_ORDER_ACT: &str = "Public Order Act 1986";
const COMPUTER_MISUSE_ACT: &str = "Computer Misuse Act 1990";

fn action(
    slug: &str,
    group: G,
    description: &str,
    staff: ActionStatus,
    pupils: ActionStatus,
    legislation: Option<&str>,
) -> UserAction {
    UserAction {
        id: id(slug),
        group,
        description: description.to_owned(),
        staff,
        pupils,
        legislation: legislation.map(str::to_owned),
    }
}

/// Illegal for everyone, under `act`.
fn illegal(slug: &str, group: G, description: &str, act: &str) -> UserAction {
    use ActionStatus::UnacceptableAndIllegal as I;
    action(slug, group, description, I, I, Some(act))
}

/// Not allowed for anyone, but not a crime in itself.
fn unacceptable(slug: &str, group: G, description: &str) -> UserAction {
    use ActionStatus::Unacceptable as U;
    action(slug, group, description, U, U, None)
}

fn user_actions() -> Vec<UserAction> {
    use ActionStatus::{
        Acceptable as A, AcceptableAtCertainTimes as T, AcceptableForNominatedUsers as N,
        Unacceptable as U,
    };
    vec![
        illegal(
            "indecent-images-of-children",
            G::Content,
            "Taking, making, possessing or distributing indecent images of children",
            CHILDREN_ACT,
        ),
        illegal(
            "grooming",
            G::Content,
            "Grooming a child, or inciting, arranging or helping to bring about sexual activity with a child",
            SEXUAL_OFFENCES_ACT,
        ),
        illegal(
            "extreme-pornography",
            G::Content,
            "Possessing an extreme pornographic image: grossly offensive, disgusting or obscene",
            CJI_ACT,
        ),
        illegal(
            "stirring-up-hatred",
            G::Content,
            "Criminally racist material, or material meant to stir up hatred on grounds of religion or sexual orientation",
            PUBLIC_ORDER_ACT,
        ),
        unacceptable("pornography", G::Content, "Pornography"),
        unacceptable(
            "promoting-discrimination",
            G::Content,
            "Material that promotes discrimination of any kind",
        ),
        unacceptable(
            "threatening-behaviour",
            G::Content,
            "Threatening behaviour, including encouraging physical violence or mental harm",
        ),
        unacceptable(
            "promoting-extremism",
            G::Content,
            "Material that promotes extremism or terrorism",
        ),
        unacceptable(
            "offensive-or-disreputable",
            G::Content,
            "Anything else likely to offend colleagues, go against the ethos of the academy or bring the trust into disrepute",
        ),
        illegal(
            "unauthorised-access",
            G::Systems,
            "Getting into trust networks, data or files without permission, on any device",
            COMPUTER_MISUSE_ACT,
        ),
        illegal(
            "malware",
            G::Systems,
            "Creating or spreading viruses or other harmful software",
            COMPUTER_MISUSE_ACT,
        ),
        illegal(
            "revealing-access-codes",
            G::Systems,
            "Revealing or publishing passwords, access codes or confidential data so that others can get into systems without permission",
            COMPUTER_MISUSE_ACT,
        ),
        illegal(
            "disrupting-the-network",
            G::Systems,
            "Disabling, impairing or disrupting the network or its services",
            COMPUTER_MISUSE_ACT,
        ),
        illegal(
            "unauthorised-penetration-testing",
            G::Systems,
            "Using penetration-testing or hacking tools without written permission",
            COMPUTER_MISUSE_ACT,
        ),
        unacceptable(
            "bypassing-filtering",
            G::Systems,
            "Using apps, websites, proxies, VPNs or anything else to get round the filtering or other safeguards",
        ),
        unacceptable(
            "revealing-confidential-information",
            G::Systems,
            "Revealing or publishing confidential or personal information, such as financial records or pupils' data",
        ),
        unacceptable(
            "unfair-usage",
            G::Systems,
            "Downloading or uploading large files that slow the internet down for everyone else",
        ),
        unacceptable(
            "private-business",
            G::Conduct,
            "Using trust systems to run a private business",
        ),
        unacceptable(
            "infringing-copyright",
            G::Conduct,
            "Infringing copyright, including sharing software, music, films or books without a licence",
        ),
        unacceptable("online-gambling", G::Conduct, "Online gambling"),
        action(
            "gaming-educational",
            G::PersonalUse,
            "Online games chosen for learning",
            A,
            T,
            None,
        ),
        action(
            "gaming-non-educational",
            G::PersonalUse,
            "Other online games",
            T,
            U,
            None,
        ),
        action(
            "online-shopping",
            G::PersonalUse,
            "Online shopping and commerce (staff: buying for the academy, by those who do it)",
            N,
            U,
            None,
        ),
        action(
            "social-media",
            G::PersonalUse,
            "Social media (staff: personal use in breaks; the academy's own accounts by nominated staff)",
            T,
            U,
            None,
        ),
        action(
            "messaging-apps",
            G::PersonalUse,
            "Messaging apps (pupils: only the learning platform's messaging, when a teacher allows it)",
            T,
            T,
            None,
        ),
        action(
            "video-sharing",
            G::PersonalUse,
            "Video-sharing sites such as YouTube (pupils: when a teacher directs it)",
            A,
            T,
            None,
        ),
        action(
            "file-sharing",
            G::PersonalUse,
            "File-sharing services other than the trust's own (staff: by nominated staff, for a stated purpose)",
            N,
            U,
            None,
        ),
    ]
}

fn row<A: Ord + Copy>(slug: &str, incident: &str, illegal: bool, actions: &[A]) -> SanctionRow<A> {
    SanctionRow {
        id: id(slug),
        incident: incident.to_owned(),
        illegal,
        actions: actions.iter().copied().collect(),
    }
}

/// Sixteen rows, after the reference trust's pupil table.
fn pupil_sanctions() -> Vec<PupilSanction> {
    vec![
        row(
            "illegal-material",
            "Deliberately looking for, or at, material that could be illegal (see the user actions table)",
            true,
            &[P::Police, P::InformParents],
        ),
        row(
            "non-educational-sites-in-lessons",
            "Using sites that have nothing to do with the lesson, without permission",
            false,
            &[P::ClassTeacher, P::InformParents],
        ),
        row(
            "personal-device",
            "Using a mobile phone, smartwatch or personal tablet without permission",
            false,
            &[P::ClassTeacher, P::InformParents],
        ),
        row(
            "social-media-or-personal-email",
            "Using social media, messaging apps or personal email without permission",
            false,
            &[P::SeniorLeader, P::InformParents, P::RemoveAccess],
        ),
        row(
            "unauthorised-downloads-or-uploads",
            "Downloading or uploading files without permission",
            false,
            &[P::SeniorLeader, P::InformParents, P::RemoveAccess],
        ),
        row(
            "sharing-login",
            "Letting someone else onto the network by sharing a username and password",
            false,
            &[P::ClassTeacher, P::Warning],
        ),
        row(
            "using-another-pupils-account",
            "Getting, or trying to get, onto the network with another pupil's account",
            false,
            &[P::ClassTeacher, P::InformParents],
        ),
        row(
            "using-a-staff-account",
            "Getting, or trying to get, onto the network with a member of staff's account",
            false,
            &[P::SeniorLeader, P::TechnicalStaff, P::InformParents, P::RemoveAccess],
        ),
        row(
            "corrupting-data",
            "Damaging, corrupting or deleting other people's work or data",
            false,
            &[P::SeniorLeader, P::InformParents],
        ),
        row(
            "offensive-or-bullying-message",
            "Sending an email, text, message or post that is offensive, harassing or bullying",
            false,
            &[P::Headteacher, P::InformParents, P::RemoveAccess, P::FurtherSanction],
        ),
        row(
            "repeated-infringement",
            "Carrying on with any of these after earlier warnings or sanctions",
            false,
            &[P::Headteacher, P::InformParents, P::RemoveAccess, P::FurtherSanction],
        ),
        row(
            "bringing-the-academy-into-disrepute",
            "Anything that could bring the academy into disrepute or go against its ethos",
            false,
            &[P::Headteacher, P::InformParents],
        ),
        row(
            "bypassing-filtering",
            "Using proxy sites, VPNs or other ways to get round the filtering",
            false,
            &[
                P::Headteacher,
                P::TechnicalStaff,
                P::InformParents,
                P::RemoveAccess,
                P::FurtherSanction,
            ],
        ),
        row(
            "accidental-access-not-reported",
            "Coming across offensive or pornographic material by accident and not telling anyone",
            false,
            &[P::SeniorLeader, P::InformParents],
        ),
        row(
            "deliberate-offensive-material",
            "Deliberately looking for, or at, offensive, pornographic or extremist material",
            false,
            &[P::Headteacher, P::InformParents, P::FurtherSanction],
        ),
        row(
            "copyright-or-data-protection",
            "Receiving or passing on material that breaks someone's copyright or data protection law",
            false,
            &[P::SeniorLeader, P::TechnicalStaff],
        ),
    ]
}

/// Eighteen rows, after the reference trust's staff table.
fn staff_sanctions() -> Vec<StaffSanction> {
    vec![
        row(
            "illegal-material",
            "Deliberately looking for, or at, material that could be illegal (see the user actions table)",
            true,
            &[
                S::Headteacher,
                S::HrLocalAuthority,
                S::Lado,
                S::Police,
                S::TechnicalStaff,
                S::Suspension,
                S::Disciplinary,
            ],
        ),
        row(
            "excessive-personal-use",
            "Too much, or inappropriate, personal use of the internet, social media, messaging or personal email",
            false,
            &[S::LineManager, S::Headteacher, S::Warning],
        ),
        row(
            "unauthorised-downloads-or-uploads",
            "Downloading or uploading files without permission",
            false,
            &[S::LineManager, S::Headteacher, S::Warning],
        ),
        row(
            "sharing-or-using-another-login",
            "Sharing a username and password, or getting onto the network with someone else's account",
            false,
            &[S::LineManager, S::Headteacher, S::TechnicalStaff, S::Warning],
        ),
        row(
            "careless-use-of-personal-data",
            "Careless use of personal data, such as keeping or sending it insecurely",
            false,
            &[S::LineManager, S::Warning],
        ),
        row(
            "deliberate-data-or-security-breach",
            "Deliberately breaking data protection or network security rules",
            false,
            &[
                S::LineManager,
                S::Headteacher,
                S::HrLocalAuthority,
                S::Warning,
                S::Disciplinary,
            ],
        ),
        row(
            "corrupting-data-or-damaging-equipment",
            "Corrupting or destroying other people's data, or deliberately damaging hardware or software",
            false,
            &[S::Headteacher, S::HrLocalAuthority, S::Warning, S::Disciplinary],
        ),
        row(
            "offensive-message-to-staff",
            "Sending a colleague an email, text or message that is offensive, harassing or bullying",
            false,
            &[S::Headteacher, S::HrLocalAuthority, S::Warning, S::Disciplinary],
        ),
        row(
            "offensive-message-to-pupils",
            "Sending a pupil an email, text or message that is offensive, harassing or bullying",
            false,
            &[
                S::Headteacher,
                S::HrLocalAuthority,
                S::Lado,
                S::Warning,
                S::Disciplinary,
            ],
        ),
        row(
            "breach-of-communication-rules-with-pupils",
            "Breaking this policy's rules on communicating with pupils",
            false,
            &[S::Headteacher, S::HrLocalAuthority, S::Lado, S::Disciplinary],
        ),
        row(
            "personal-channels-with-pupils",
            "Using personal email, social media, messaging or texts to communicate with pupils",
            false,
            &[
                S::Headteacher,
                S::HrLocalAuthority,
                S::Lado,
                S::Warning,
                S::Disciplinary,
            ],
        ),
        row(
            "compromising-professional-standing",
            "Anything that could compromise the person's professional standing",
            false,
            &[S::Headteacher, S::HrLocalAuthority, S::Disciplinary],
        ),
        row(
            "bringing-the-academy-into-disrepute",
            "Anything that could bring the academy into disrepute or go against its ethos",
            false,
            &[S::Headteacher, S::HrLocalAuthority, S::Disciplinary],
        ),
        row(
            "bypassing-filtering",
            "Using proxy sites, VPNs or other ways to get round the filtering",
            false,
            &[S::Headteacher, S::HrLocalAuthority, S::TechnicalStaff, S::Disciplinary],
        ),
        row(
            "accidental-access-not-reported",
            "Coming across offensive or pornographic material by accident and not reporting it",
            false,
            &[S::Headteacher, S::Lado, S::TechnicalStaff],
        ),
        row(
            "deliberate-offensive-material",
            "Deliberately looking for, or at, offensive or pornographic material, or material meant to radicalise",
            false,
            &[
                S::Headteacher,
                S::HrLocalAuthority,
                S::Lado,
                S::Warning,
                S::Disciplinary,
            ],
        ),
        row(
            "copyright-or-licensing",
            "Breaking copyright or software licensing rules",
            false,
            &[S::Headteacher, S::TechnicalStaff],
        ),
        row(
            "repeated-infringement",
            "Carrying on with any of these after earlier warnings or sanctions",
            false,
            &[
                S::Headteacher,
                S::HrLocalAuthority,
                S::Warning,
                S::Suspension,
                S::Disciplinary,
            ],
        ),
    ]
}

#[allow(clippy::too_many_arguments)] // A table row: named by position like its columns.
fn route(
    slug: &str,
    description: &str,
    involved: &[Involved],
    concerns: &[Concern],
    report_to: &[R],
    timescale: Timescale,
    how: &[M],
) -> ReportingRoute {
    ReportingRoute {
        id: id(slug),
        description: description.to_owned(),
        involved: involved.to_vec(),
        concerns: concerns.to_vec(),
        report_to: report_to.to_vec(),
        timescale,
        how: how.to_vec(),
    }
}

fn reporting_routes() -> Vec<ReportingRoute> {
    use Concern::{Filtering, Illegal, Inappropriate};
    use Involved::*;
    const PUPILS: &[Involved] = &[PupilInLesson, PupilOutsideLesson];
    vec![
        route(
            "pupil-illegal",
            "Illegal activity by a pupil, or illegal content seen by a pupil",
            PUPILS,
            &[Illegal],
            &[R::Dsl],
            Timescale::Immediately,
            &[M::InPerson, M::SafeguardingRecord],
        ),
        route(
            "suspected-crime",
            "Suspected child abuse images, grooming, obscene material sent to a child, criminally racist or terrorist material, computer misuse or any other crime",
            &Involved::ALL,
            &[Illegal],
            &[R::Police],
            Timescale::Immediately,
            &[M::Phone],
        ),
        route(
            "staff-concern",
            "Illegal or inappropriate activity by a member of staff",
            &[StaffMember],
            &[Illegal, Inappropriate],
            &[R::Headteacher, R::EsafetyLead],
            Timescale::Immediately,
            &[M::InPerson, M::Email],
        ),
        route(
            "headteacher-concern",
            "Illegal or inappropriate activity by the headteacher",
            &[Headteacher],
            &[Illegal, Inappropriate],
            &[R::ChiefExecutive],
            Timescale::Immediately,
            &[M::Phone, M::Email],
        ),
        route(
            "chief-executive-concern",
            "Illegal or inappropriate activity by the chief executive",
            &[ChiefExecutive],
            &[Illegal, Inappropriate],
            &[R::ChairOfTrustees],
            Timescale::Immediately,
            &[M::Phone, M::Email],
        ),
        route(
            "content-to-block",
            "Illegal content that must be removed or blocked, or inappropriate material that needs extra filtering",
            &Involved::ALL,
            &[Filtering],
            &[R::TechnicalStaff, R::EsafetyLead],
            Timescale::Immediately,
            &[M::Email],
        ),
        route(
            "pupil-inappropriate-in-lesson",
            "Inappropriate activity by a pupil in a lesson, when it is not a child protection matter",
            &[PupilInLesson],
            &[Inappropriate],
            &[R::HeadOfSubject, R::PastoralLeader],
            Timescale::SameDay,
            &[M::BehaviourRecord],
        ),
        route(
            "pupil-inappropriate-outside-lessons",
            "Inappropriate activity by a pupil outside lessons, when it is not a child protection matter",
            &[PupilOutsideLesson],
            &[Inappropriate],
            &[R::HeadOfYear],
            Timescale::SameDay,
            &[M::BehaviourRecord],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::SanctionAction;

    #[test]
    fn the_default_tables_have_16_pupil_rows_and_18_staff_rows() {
        let t = tables();
        assert_eq!(t.pupil_sanctions.len(), 16);
        assert_eq!(t.staff_sanctions.len(), 18);
    }

    #[test]
    fn every_illegal_user_action_names_an_act() {
        let t = tables();
        let illegal: Vec<_> = t.user_actions.iter().filter(|a| a.is_illegal()).collect();
        assert!(illegal.len() >= 5);
        for a in illegal {
            let act = a.legislation.as_deref().unwrap_or_default();
            assert!(act.contains("Act "), "{}: {act:?}", a.id);
        }
    }

    #[test]
    fn the_illegal_rows_cover_the_acts_of_the_reference_policies() {
        let t = tables();
        for act in [
            CHILDREN_ACT,
            SEXUAL_OFFENCES_ACT,
            CJI_ACT,
            PUBLIC_ORDER_ACT,
            COMPUTER_MISUSE_ACT,
        ] {
            assert!(
                t.user_actions
                    .iter()
                    .any(|a| a.is_illegal() && a.legislation.as_deref() == Some(act)),
                "{act}"
            );
        }
        let misuse = t
            .user_actions
            .iter()
            .filter(|a| a.legislation.as_deref() == Some(COMPUTER_MISUSE_ACT))
            .count();
        assert_eq!(
            misuse, 5,
            "access, viruses, passwords, disruption, penetration testing"
        );
    }

    #[test]
    fn the_unacceptable_rows_of_the_reference_policies_are_there() {
        let t = tables();
        for slug in [
            "pornography",
            "promoting-discrimination",
            "threatening-behaviour",
            "promoting-extremism",
            "bypassing-filtering",
            "unfair-usage",
            "private-business",
            "infringing-copyright",
            "online-gambling",
        ] {
            let a = t.user_action(slug).unwrap_or_else(|| panic!("{slug}"));
            assert_eq!(a.staff, ActionStatus::Unacceptable, "{slug}");
            assert_eq!(a.pupils, ActionStatus::Unacceptable, "{slug}");
        }
    }

    #[test]
    fn every_sanctions_row_has_at_least_one_referral() {
        let t = tables();
        for r in &t.pupil_sanctions {
            assert!(r.actions.iter().any(|a| a.is_referral()), "pupil {}", r.id);
        }
        for r in &t.staff_sanctions {
            assert!(r.actions.iter().any(|a| a.is_referral()), "staff {}", r.id);
        }
    }

    #[test]
    fn every_route_has_a_timescale_and_someone_to_tell() {
        let t = tables();
        for r in &t.reporting_routes {
            assert!(
                matches!(r.timescale, Timescale::Immediately | Timescale::SameDay),
                "{}",
                r.id
            );
            assert!(!r.report_to.is_empty() && !r.how.is_empty(), "{}", r.id);
        }
    }

    #[test]
    fn the_reference_recommendations_are_kept() {
        let t = tables();
        let pupil = |id: &str| t.pupil_row(id).unwrap().actions.clone();
        let staff = |id: &str| t.staff_row(id).unwrap().actions.clone();
        assert_eq!(
            pupil("illegal-material").into_iter().collect::<Vec<_>>(),
            [P::Police, P::InformParents]
        );
        assert_eq!(
            pupil("offensive-or-bullying-message")
                .into_iter()
                .collect::<Vec<_>>(),
            [
                P::Headteacher,
                P::InformParents,
                P::RemoveAccess,
                P::FurtherSanction
            ]
        );
        assert_eq!(
            pupil("bypassing-filtering").into_iter().collect::<Vec<_>>(),
            [
                P::Headteacher,
                P::TechnicalStaff,
                P::InformParents,
                P::RemoveAccess,
                P::FurtherSanction
            ]
        );
        assert_eq!(
            pupil("accidental-access-not-reported")
                .into_iter()
                .collect::<Vec<_>>(),
            [P::SeniorLeader, P::InformParents]
        );
        assert_eq!(
            staff("careless-use-of-personal-data")
                .into_iter()
                .collect::<Vec<_>>(),
            [S::LineManager, S::Warning]
        );
    }
}
