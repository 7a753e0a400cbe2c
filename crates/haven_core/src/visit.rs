//! The reception desk: visits, sign-out, badges, the escort rule, and how
//! long visitor records are kept.
//!
//! A visit is append-only like an agreement: signing in creates a
//! [`VisitRecord`], signing out creates a [`VisitEnd`] that points at it, so
//! two reception devices never overwrite each other. Every visit names the
//! agreement that covers it: one the visitor signed at this sign-in, or one
//! they signed earlier for the same version (a returning visitor).

use crate::accounts::clean;
use crate::hash::Sha256Hex;
use crate::policy::{Audience, PolicyKind};
use crate::validate::{self, Invalid};
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest name, organisation or host name accepted, in characters.
pub const MAX_FIELD_CHARS: usize = 200;
/// Longest car registration accepted, in characters.
pub const MAX_CAR_REGISTRATION_CHARS: usize = 12;
/// One day in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// Who is visiting, as reception asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VisitorType {
    Visitor,
    Contractor,
    SupplyTeacher,
    TraineeTeacher,
    Governor,
    Parent,
    CommunityUser,
    Other,
}

impl VisitorType {
    pub const ALL: [VisitorType; 8] = [
        VisitorType::Visitor,
        VisitorType::Contractor,
        VisitorType::SupplyTeacher,
        VisitorType::TraineeTeacher,
        VisitorType::Governor,
        VisitorType::Parent,
        VisitorType::CommunityUser,
        VisitorType::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            VisitorType::Visitor => "Visitor",
            VisitorType::Contractor => "Contractor",
            VisitorType::SupplyTeacher => "Supply teacher",
            VisitorType::TraineeTeacher => "Trainee teacher",
            VisitorType::Governor => "Governor",
            VisitorType::Parent => "Parent or carer",
            VisitorType::CommunityUser => "Community user",
            VisitorType::Other => "Other",
        }
    }

    /// The name on the wire (and in form values).
    pub fn wire_name(self) -> &'static str {
        match self {
            VisitorType::Visitor => "visitor",
            VisitorType::Contractor => "contractor",
            VisitorType::SupplyTeacher => "supply_teacher",
            VisitorType::TraineeTeacher => "trainee_teacher",
            VisitorType::Governor => "governor",
            VisitorType::Parent => "parent",
            VisitorType::CommunityUser => "community_user",
            VisitorType::Other => "other",
        }
    }

    pub fn from_wire(name: &str) -> Option<VisitorType> {
        VisitorType::ALL.into_iter().find(|t| t.wire_name() == name)
    }

    /// The role they sign the agreement in.
    pub fn audience(self) -> Audience {
        match self {
            VisitorType::Visitor | VisitorType::Other => Audience::Visitor,
            VisitorType::Contractor => Audience::Contractor,
            VisitorType::SupplyTeacher => Audience::SupplyTeacher,
            VisitorType::TraineeTeacher => Audience::TraineeTeacher,
            VisitorType::Governor => Audience::Governor,
            VisitorType::Parent => Audience::ParentCarer,
            VisitorType::CommunityUser => Audience::CommunityUser,
        }
    }

    /// The agreement a visitor of this type signs at reception: community
    /// users have their own; everyone else at the desk signs the visitor one.
    pub fn agreement_kind(self) -> PolicyKind {
        match self {
            VisitorType::CommunityUser => PolicyKind::CommunityAua,
            _ => PolicyKind::VisitorAua,
        }
    }
}

/// The DBS (criminal record) check as reception records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DbsStatus {
    /// Not checked at this visit.
    #[default]
    NotChecked,
    /// Seen on the academy's single central record or the update service.
    Verified,
}

/// What reception checked before letting the visitor in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VisitorChecks {
    /// Photo ID was seen.
    pub id_seen: bool,
    pub dbs: DbsStatus,
}

/// An academy's rule for who must be escorted on site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EscortRule {
    /// Every visitor is escorted.
    Always,
    /// Escorted unless photo ID was seen and the DBS check verified: the
    /// usual rule in the reference policies' visitor procedures.
    #[default]
    UnlessIdAndDbsChecked,
    /// No one is escorted (a site with no pupils present, say).
    Never,
}

impl EscortRule {
    pub fn escort_required(self, checks: VisitorChecks) -> bool {
        match self {
            EscortRule::Always => true,
            EscortRule::UnlessIdAndDbsChecked => {
                !(checks.id_seen && checks.dbs == DbsStatus::Verified)
            }
            EscortRule::Never => false,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EscortRule::Always => "Every visitor is escorted",
            EscortRule::UnlessIdAndDbsChecked => {
                "Escorted unless photo ID was seen and the DBS check verified"
            }
            EscortRule::Never => "Visitors are not escorted",
        }
    }
}

/// Days a reception device still recognises a returning visitor after their
/// last visit there ended ([`device_may_recognise`]). The visit itself goes
/// from the device as soon as it has ended and the server has it
/// ([`device_may_forget`]).
pub const DEFAULT_DEVICE_RETENTION_DAYS: u32 = 30;
/// Days the server keeps a visit after it ended: six years.
pub const DEFAULT_SERVER_RETENTION_DAYS: u32 = 2192;
/// Longest retention the server accepts: 25 years.
pub const MAX_RETENTION_DAYS: u32 = 9131;

/// One academy's reception rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReceptionSettings {
    pub escort_rule: EscortRule,
    /// Days a reception device still recognises a returning visitor (by a
    /// digest of their name, never the name) after their last visit ended:
    /// see [`device_may_recognise`].
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 9131))]
    pub device_retention_days: u32,
    /// Days the server keeps a visit once it has ended.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 9131))]
    pub server_retention_days: u32,
}

impl Default for ReceptionSettings {
    fn default() -> Self {
        ReceptionSettings {
            escort_rule: EscortRule::default(),
            device_retention_days: DEFAULT_DEVICE_RETENTION_DAYS,
            server_retention_days: DEFAULT_SERVER_RETENTION_DAYS,
        }
    }
}

impl ReceptionSettings {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.device_retention_days > MAX_RETENTION_DAYS {
            return Err(Invalid::new(
                "device_retention_days",
                format!("at most {MAX_RETENTION_DAYS} days"),
            ));
        }
        if !(1..=MAX_RETENTION_DAYS).contains(&self.server_retention_days) {
            return Err(Invalid::new(
                "server_retention_days",
                format!("between 1 and {MAX_RETENTION_DAYS} days"),
            ));
        }
        Ok(())
    }
}

/// The staff member a visitor has come to see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Their staff account, when chosen from the academy's list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<Uuid>,
    pub name: String,
}

/// A visitor signing in, as the reception device records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VisitRecord {
    /// UUID v7 made on the device.
    pub id: Uuid,
    pub academy_id: Uuid,
    pub device_id: Uuid,
    pub visitor_name: String,
    /// May be empty (a parent has none).
    pub organisation: String,
    pub visitor_type: VisitorType,
    pub host: Host,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub car_registration: Option<String>,
    /// Printed on the badge and in its QR code; see [`badge_code`].
    pub badge_code: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub signed_in_at: Millis,
    pub checks: VisitorChecks,
    /// What the academy's rule said for these checks at sign-in.
    pub escort_required: bool,
    /// The agreement that covers this visit.
    pub agreement_id: Uuid,
    /// The version that agreement binds to.
    pub agreement_version_id: Uuid,
}

/// How a visitor signed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SignOutMethod {
    /// Tapped their name in the list.
    List,
    /// Scanned the badge's QR code.
    BadgeScan,
    /// Typed the badge code.
    BadgeCode,
    /// Never signed out: reception closed the visit at the end of the day.
    /// Flagged in reports.
    EndOfDay,
}

impl SignOutMethod {
    pub fn label(self) -> &'static str {
        match self {
            SignOutMethod::List => "signed out from the list",
            SignOutMethod::BadgeScan => "scanned their badge",
            SignOutMethod::BadgeCode => "typed their badge code",
            SignOutMethod::EndOfDay => "not signed out: closed by reception at the end of the day",
        }
    }
}

/// A visitor leaving: a new record pointing at the visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VisitEnd {
    /// UUID v7 made on the device.
    pub id: Uuid,
    pub visit_id: Uuid,
    pub device_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub signed_out_at: Millis,
    pub method: SignOutMethod,
}

/// What is wrong with a visit record, for a person to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitError {
    #[error("{0}")]
    Field(#[from] Invalid),
    #[error("the badge code {0:?} is not the code of this visit ({1})")]
    BadgeCode(String, String),
    #[error("the time {0} is not a date between 1970 and 2200")]
    ImplausibleTime(Millis),
}

/// 1970-01-01 to 2200-01-01: the only times a visit may carry. A device
/// whose clock is wrong still signs visitors in and out (its times are kept
/// and marked, see [`sign_in_clock_wrong`]); this range only keeps nonsense
/// out of the database and out of date arithmetic.
const SANE: std::ops::Range<Millis> = 0..7_258_118_400_000;

/// 2000-01-01: no visit happened before it, so a time before it comes from
/// a clock that was reset (a flat clock battery reads 1970).
const PLAUSIBLE_FROM: Millis = 946_684_800_000;

/// How far ahead of the server's clock a device's time may be before the
/// server takes the device's clock to be wrong: clocks drift a little.
pub const CLOCK_AHEAD_TOLERANCE_MS: Millis = 5 * 60_000;

/// What staff see beside a visit whose times came from a wrong clock.
pub const CLOCK_WRONG_NOTE: &str = "device clock was wrong; times approximate";

/// Whether `at` is earlier than any real visit: the device's clock was reset.
pub fn clock_was_reset(at: Millis) -> bool {
    at < PLAUSIBLE_FROM
}

/// Whether a sign-in's time, as its device's clock gave it, shows that clock
/// was wrong: reset, or ahead of the server's clock when the server
/// `received_at` it. A time long before its receipt is no sign of a wrong
/// clock: a desk may be offline for days.
pub fn sign_in_clock_wrong(signed_in_at: Millis, received_at: Millis) -> bool {
    clock_was_reset(signed_in_at)
        || signed_in_at > received_at.saturating_add(CLOCK_AHEAD_TOLERANCE_MS)
}

/// Whether a sign-out's time shows a device clock was wrong: as for a
/// sign-in, or earlier than the sign-in (the two desks' clocks disagree, or
/// one jumped). The server keeps such a sign-out, marked, rather than
/// refuse it: refusing would leave the visitor on site for ever.
pub fn sign_out_clock_wrong(
    signed_in_at: Millis,
    signed_out_at: Millis,
    received_at: Millis,
) -> bool {
    signed_out_at < signed_in_at || sign_in_clock_wrong(signed_out_at, received_at)
}

fn optional_line(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.chars().count() > max {
        return Err(Invalid::new(field, format!("at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "no control characters"));
    }
    Ok(())
}

impl VisitRecord {
    /// Checks that need nothing but the record; the form runs the same ones.
    pub fn validate(&self) -> Result<(), VisitError> {
        validate::line("visitor_name", &self.visitor_name, MAX_FIELD_CHARS)?;
        optional_line("organisation", &self.organisation, MAX_FIELD_CHARS)?;
        validate::line("host.name", &self.host.name, MAX_FIELD_CHARS)?;
        if let Some(reg) = &self.car_registration {
            validate::line("car_registration", reg, MAX_CAR_REGISTRATION_CHARS)?;
        }
        if !SANE.contains(&self.signed_in_at) {
            return Err(VisitError::ImplausibleTime(self.signed_in_at));
        }
        let expected = badge_code(self.id);
        if self.badge_code != expected {
            return Err(VisitError::BadgeCode(self.badge_code.clone(), expected));
        }
        Ok(())
    }

    /// First name and the initial of the last: what the public sign-out
    /// list shows.
    pub fn public_name(&self) -> String {
        public_name(&self.visitor_name)
    }

    /// The key a returning visitor is recognised by.
    pub fn person_key(&self) -> String {
        person_key(&self.visitor_name, &self.organisation)
    }
}

impl VisitEnd {
    pub fn validate(&self) -> Result<(), VisitError> {
        if !SANE.contains(&self.signed_out_at) {
            return Err(VisitError::ImplausibleTime(self.signed_out_at));
        }
        Ok(())
    }
}

/// "Ada Lovelace" → "Ada L."; a single name stays as it is.
pub fn public_name(full: &str) -> String {
    let cleaned = clean(full);
    let mut parts = cleaned.split(' ');
    let first = parts.next().unwrap_or_default();
    match parts.next_back().and_then(|last| last.chars().next()) {
        Some(initial) => format!("{first} {}.", initial.to_uppercase()),
        None => first.to_owned(),
    }
}

/// Name and organisation, trimmed, spaces collapsed, case folded.
pub fn person_key(name: &str, organisation: &str) -> String {
    format!(
        "{}\u{1f}{}",
        clean(name).to_lowercase(),
        clean(organisation).to_lowercase()
    )
}

/// The badge code of a visit: 30 bits of its id's random tail in Crockford
/// base32, `XXX-XXX`. Derived, so a device needs no counter and no server to
/// make one, and 10⁹ codes make a clash on one day's list negligible.
pub fn badge_code(visit_id: Uuid) -> String {
    crate::crockford::encode((visit_id.as_u128() & 0x3FFF_FFFF) as u64, 6)
}

/// A typed or scanned badge code in the form it is stored: upper case, the
/// letters people confuse read as Crockford does (O→0, I/L→1), `XXX-XXX`.
pub fn normalise_badge_code(code: &str) -> Option<String> {
    crate::crockford::normalise(code, 6)
}

/// What the badge's QR code holds: a path on the kiosk, so a phone camera
/// opening it lands on the sign-out page with the code filled in.
pub fn badge_qr_payload(code: &str) -> String {
    format!("/kiosk/sign-out?code={code}")
}

/// Reads a badge code back out of a scanned QR payload (or a bare code).
pub fn badge_code_from_scan(scanned: &str) -> Option<String> {
    let code = scanned
        .rsplit_once("code=")
        .map_or(scanned, |(_, code)| code);
    normalise_badge_code(code)
}

/// What a reception device keeps of an agreement a visitor signed there, to
/// know them when they come back without keeping their name: the agreement,
/// the version it binds to, and [`returning_digest`] of their name and
/// organisation. Made at signing; it is all that is left of the visitor on
/// the device once the server has their agreement and their visit has ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recognisable {
    pub agreement_id: Uuid,
    pub policy_version_id: Uuid,
    pub agreed: bool,
    /// Device clock at signing (shown as "you signed it on …").
    pub signed_at: Millis,
    pub person: Sha256Hex,
}

/// Label of [`returning_digest`]'s input, so the digest means nothing else.
const RETURNING_LABEL: &[u8] = b"haven-returning-visitor-v1\x1f";

/// HMAC-SHA-256, under the device's own random `key`, of a visitor's name and
/// organisation as [`person_key`] normalises them: the same person typing
/// their details a little differently gets the same digest on the same
/// device, and the digest alone does not give the name back. Whoever also
/// has the key (it is on the same device, in the clear: a kiosk has no one
/// unlocked to seal it for) can still test a guessed name and organisation,
/// one HMAC a guess; what it stops is reading names off the device.
pub fn returning_digest(key: &[u8], name: &str, organisation: &str) -> Sha256Hex {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(RETURNING_LABEL);
    mac.update(person_key(name, organisation).as_bytes());
    Sha256Hex::try_from(hex::encode(mac.finalize().into_bytes()))
        .expect("hex of 32 bytes is a digest")
}

/// The earlier agreement that lets a returning visitor skip signing: one
/// they agreed to, for exactly the `current_version`, whose digest is
/// `person` ([`returning_digest`] of the name and organisation typed now).
/// `kept` is what the device knows of; the caller has the person confirm
/// it is them.
pub fn earlier_agreement<'a>(
    kept: impl IntoIterator<Item = &'a Recognisable>,
    person: &Sha256Hex,
    current_version: Uuid,
) -> Option<&'a Recognisable> {
    kept.into_iter()
        .filter(|a| a.agreed && a.policy_version_id == current_version && a.person == *person)
        .max_by_key(|a| a.signed_at)
}

/// Whether a device may now delete a visit: it has ended and the server has
/// both its sign-in and its end. Nothing of it is needed here after that:
/// the roll call lists who is on site, and the record is the server's to
/// keep. A visit never signed out stays until reception closes it at the
/// end of the day, because the fire roll call must list it with the network
/// down.
pub fn device_may_forget(ended: bool, server_has_it: bool) -> bool {
    ended && server_has_it
}

/// Whether a reception device may still recognise a returning visitor (keep
/// their [`Recognisable`]): `last_seen` — the end of their last visit here,
/// or when they signed if no visit of theirs has ended yet, by the device's
/// clock as `now` is — was less than the academy's `retention_days` ago.
/// With 0 days the device recognises no one once they have left.
pub fn device_may_recognise(last_seen: Millis, now: Millis, retention_days: u32) -> bool {
    now.saturating_sub(last_seen) < i64::from(retention_days) * DAY_MS
}

/// Whether the server may now delete a visit: the server received its end
/// (`end_received_at`, by the server's clock, as `now` is) more than
/// `retention_days` ago. The device's sign-out time is not used: a kiosk
/// whose clock says 2001 would have its visits deleted the hour they
/// arrive. A visit that never ended is kept: reception closes it at the
/// end of the day, and its retention runs from then.
pub fn server_may_forget(
    end_received_at: Option<Millis>,
    now: Millis,
    retention_days: u32,
) -> bool {
    end_received_at
        .is_some_and(|received| now.saturating_sub(received) >= i64::from(retention_days) * DAY_MS)
}

/// Start of the local day containing `at`, given the device's offset from
/// UTC in minutes (JS `-getTimezoneOffset()`): end-of-day lists visits that
/// began before it.
pub fn start_of_day(at: Millis, utc_offset_minutes: i64) -> Millis {
    let offset = utc_offset_minutes * 60_000;
    (at + offset).div_euclid(DAY_MS) * DAY_MS - offset
}

/// One reception device as the roll call shows it: when the server last
/// heard from it, so the screen can say how fresh its visitors are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceptionDevice {
    pub device_id: Uuid,
    pub label: String,
    /// Server clock at its last push; none if it never pushed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub last_seen_at: Option<Millis>,
}

/// `GET /api/v1/reception/{academy_id}`: what a reception device needs from
/// the server: the academy's rules, whom visitors may come to see, and who
/// is on site according to every device that has synced, so several
/// reception desks make one roll call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceptionSnapshot {
    pub academy_id: Uuid,
    pub settings: ReceptionSettings,
    /// The academy's active staff, by name.
    pub hosts: Vec<Host>,
    /// Visits the server holds that have not ended.
    pub on_site: Vec<VisitRecord>,
    /// Visits that ended in the last day, so a device drops them from its
    /// merged list even if it missed the sign-out.
    pub ended_recently: Vec<Uuid>,
    /// Visits above (on site or ended recently) whose sign-in or sign-out
    /// time came from a device clock the server found wrong
    /// ([`sign_in_clock_wrong`], [`sign_out_clock_wrong`]): staff see their
    /// times as approximate.
    #[serde(default)]
    pub clock_wrong: Vec<Uuid>,
    /// The academy's enrolled reception kiosks.
    pub devices: Vec<ReceptionDevice>,
    /// Server clock when this was made.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub generated_at: Millis,
}

/// Who is on site, for the roll call: this device's visitors who have not
/// signed out, and the other desks' visitors from the server's last
/// snapshot — unless this device knows better (it signed them out, or it
/// holds the visit itself) or the server saw them leave. Oldest first.
pub fn on_site<'a>(
    local: impl IntoIterator<Item = (&'a VisitRecord, bool)>,
    snapshot: Option<&'a ReceptionSnapshot>,
) -> Vec<&'a VisitRecord> {
    let mut known = std::collections::HashSet::new();
    let mut here: Vec<&VisitRecord> = Vec::new();
    for (visit, ended) in local {
        known.insert(visit.id);
        if !ended {
            here.push(visit);
        }
    }
    if let Some(snapshot) = snapshot {
        let left: std::collections::HashSet<_> = snapshot.ended_recently.iter().collect();
        here.extend(
            snapshot
                .on_site
                .iter()
                .filter(|v| !known.contains(&v.id) && !left.contains(&v.id)),
        );
    }
    here.sort_by_key(|v| (v.signed_in_at, v.id));
    here
}

/// Whether staff see a visit's times as approximate: the server found the
/// clock that recorded them wrong, or (before the server has seen the visit)
/// the clock that signed it in had been reset.
pub fn times_approximate(visit: &VisitRecord, snapshot: Option<&ReceptionSnapshot>) -> bool {
    clock_was_reset(visit.signed_in_at)
        || snapshot.is_some_and(|s| s.clock_wrong.contains(&visit.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Sha256Hex;

    fn visit() -> VisitRecord {
        let id = Uuid::from_u128(0x0190_c5e0_0000_7000_8000_0000_1234_5678);
        VisitRecord {
            id,
            academy_id: Uuid::from_u128(1),
            device_id: Uuid::from_u128(2),
            visitor_name: "Ada Lovelace".into(),
            organisation: "Analytical Engines Ltd".into(),
            visitor_type: VisitorType::Contractor,
            host: Host {
                staff_id: None,
                name: "Mr Babbage".into(),
            },
            car_registration: Some("AB12 CDE".into()),
            badge_code: badge_code(id),
            signed_in_at: 1_790_000_000_000,
            checks: VisitorChecks::default(),
            escort_required: true,
            agreement_id: Uuid::from_u128(3),
            agreement_version_id: Uuid::from_u128(4),
        }
    }

    #[test]
    fn a_complete_visit_is_valid() {
        assert_eq!(visit().validate(), Ok(()));
    }

    #[test]
    fn a_visit_names_its_visitor_and_host() {
        let mut v = visit();
        v.visitor_name = "  ".into();
        assert!(v
            .validate()
            .unwrap_err()
            .to_string()
            .contains("visitor_name"));
        let mut v = visit();
        v.host.name = String::new();
        assert!(v.validate().unwrap_err().to_string().contains("host.name"));
        let mut v = visit();
        v.organisation = String::new();
        assert_eq!(v.validate(), Ok(()), "a parent has no organisation");
        v.car_registration = Some("X".repeat(13));
        assert!(v.validate().is_err());
    }

    #[test]
    fn a_badge_code_must_be_the_visits_own() {
        let mut v = visit();
        v.badge_code = "AAA-AAA".into();
        assert!(matches!(v.validate(), Err(VisitError::BadgeCode(..))));
    }

    #[test]
    fn badge_codes_read_back_however_they_are_typed_or_scanned() {
        let code = badge_code(visit().id);
        assert_eq!(code.len(), 7);
        assert_eq!(
            normalise_badge_code(&code.to_lowercase()),
            Some(code.clone())
        );
        assert_eq!(
            normalise_badge_code(&code.replace('-', " ")),
            Some(code.clone())
        );
        assert_eq!(
            badge_code_from_scan(&badge_qr_payload(&code)),
            Some(code.clone())
        );
        assert_eq!(normalise_badge_code("O1L-ABC"), Some("011-ABC".into()));
        assert_eq!(normalise_badge_code("12345"), None);
        assert_eq!(normalise_badge_code("UUU-UUU"), None, "U is not Crockford");
    }

    #[test]
    fn different_visits_get_different_badge_codes() {
        let a = badge_code(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001));
        let b = badge_code(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002));
        assert_ne!(a, b);
    }

    #[test]
    fn the_public_list_shows_first_name_and_initial() {
        assert_eq!(public_name("Ada Lovelace"), "Ada L.");
        assert_eq!(public_name("  ada   de  morgan "), "ada M.");
        assert_eq!(public_name("Cher"), "Cher");
    }

    #[test]
    fn the_escort_rule_follows_the_checks() {
        let none = VisitorChecks::default();
        let both = VisitorChecks {
            id_seen: true,
            dbs: DbsStatus::Verified,
        };
        let id_only = VisitorChecks {
            id_seen: true,
            dbs: DbsStatus::NotChecked,
        };
        let rule = EscortRule::UnlessIdAndDbsChecked;
        assert!(rule.escort_required(none));
        assert!(rule.escort_required(id_only));
        assert!(!rule.escort_required(both));
        assert!(EscortRule::Always.escort_required(both));
        assert!(!EscortRule::Never.escort_required(none));
    }

    #[test]
    fn community_users_sign_their_own_agreement() {
        assert_eq!(
            VisitorType::CommunityUser.agreement_kind(),
            PolicyKind::CommunityAua
        );
        for t in VisitorType::ALL {
            assert_eq!(VisitorType::from_wire(t.wire_name()), Some(t));
            if t != VisitorType::CommunityUser {
                assert_eq!(t.agreement_kind(), PolicyKind::VisitorAua);
            }
        }
    }

    const KEY: &[u8] = b"this device's own random key....";

    fn signed(name: &str, org: &str, version: u128, at: Millis) -> Recognisable {
        Recognisable {
            agreement_id: Uuid::from_u128(at as u128),
            policy_version_id: Uuid::from_u128(version),
            agreed: true,
            signed_at: at,
            person: returning_digest(KEY, name, org),
        }
    }

    #[test]
    fn a_returning_visitor_is_known_by_name_and_organisation_for_the_current_version() {
        let kept = [
            signed("Ada Lovelace", "Engines Ltd", 1, 1_000),
            signed("Ada Lovelace", "Engines Ltd", 2, 2_000),
            signed("Ada Lovelace", "Other Co", 2, 3_000),
        ];
        let typed = returning_digest(KEY, " ada  lovelace", "ENGINES LTD");
        let found = earlier_agreement(&kept, &typed, Uuid::from_u128(2));
        assert_eq!(found.map(|a| a.signed_at), Some(2_000));
        // A new version: nobody has signed it yet.
        assert!(earlier_agreement(&kept, &typed, Uuid::from_u128(3)).is_none());
        // A decline does not count.
        let mut declined = signed("Bo Diddley", "", 2, 4_000);
        declined.agreed = false;
        let bo = returning_digest(KEY, "Bo Diddley", "");
        assert!(earlier_agreement([&declined], &bo, Uuid::from_u128(2)).is_none());
    }

    #[test]
    fn the_returning_digest_hides_the_name_and_differs_from_device_to_device() {
        let here = returning_digest(KEY, "Ada Lovelace", "Engines Ltd");
        assert!(!here.as_str().to_lowercase().contains("ada"));
        assert_ne!(
            here,
            Sha256Hex::of(person_key("Ada Lovelace", "Engines Ltd").as_bytes())
        );
        assert_ne!(
            here,
            returning_digest(b"another device", "Ada Lovelace", "Engines Ltd")
        );
        // Name and organisation stay apart: "Ada L" + "ovelace" is someone else.
        assert_ne!(
            returning_digest(KEY, "Ada", "Lovelace Engines Ltd"),
            returning_digest(KEY, "Ada Lovelace", "Engines Ltd")
        );
    }

    #[test]
    fn a_device_forgets_a_visit_as_soon_as_it_has_ended_and_the_server_has_it() {
        assert!(
            !device_may_forget(false, true),
            "on site: the roll call needs it"
        );
        assert!(
            !device_may_forget(true, false),
            "its end is not at the server yet"
        );
        assert!(device_may_forget(true, true));
    }

    #[test]
    fn a_device_recognises_a_returning_visitor_for_the_academys_days_after_they_left() {
        let left = 10 * DAY_MS;
        assert!(device_may_recognise(left, left + DAY_MS - 1, 1));
        assert!(!device_may_recognise(left, left + DAY_MS, 1));
        assert!(
            !device_may_recognise(left, left, 0),
            "0 days: forgotten once they left"
        );
        // A clock that went backwards keeps it, rather than guess.
        assert!(device_may_recognise(left, left - DAY_MS, 1));
    }

    #[test]
    fn the_server_keeps_a_visit_for_its_retention_period_after_its_end_arrived() {
        let received = 10 * DAY_MS;
        assert!(!server_may_forget(None, 10_000 * DAY_MS, 1));
        assert!(!server_may_forget(
            Some(received),
            received + 2192 * DAY_MS - 1,
            2192
        ));
        assert!(server_may_forget(
            Some(received),
            received + 2192 * DAY_MS,
            2192
        ));
        // A clock far behind at the desk changes nothing: the server passes
        // its own receipt time, whatever the sign-out said.
        let desk_said_2001 = 978_307_200_000;
        let server_now = 1_790_000_000_000;
        assert!(!server_may_forget(Some(server_now), server_now, 2192));
        assert!(
            server_may_forget(Some(desk_said_2001), server_now, 2192),
            "what the old rule did"
        );
    }

    #[test]
    fn a_wrong_clock_is_kept_and_marked_and_only_nonsense_is_refused() {
        let received = 1_790_000_000_000;
        // Reset to 1970, or 2001 and offline: recorded, not refused.
        for at in [0, 5_000, 978_307_200_000] {
            let mut v = visit();
            v.signed_in_at = at;
            assert_eq!(v.validate(), Ok(()), "{at}");
            let end = VisitEnd {
                id: Uuid::from_u128(7),
                visit_id: v.id,
                device_id: v.device_id,
                signed_out_at: at,
                method: SignOutMethod::List,
            };
            assert_eq!(end.validate(), Ok(()), "{at}");
        }
        for at in [-1, 7_258_118_400_000, Millis::MAX] {
            let mut v = visit();
            v.signed_in_at = at;
            assert_eq!(v.validate(), Err(VisitError::ImplausibleTime(at)));
        }
        // Reset: marked. 2001 may be a desk that was offline: not marked.
        assert!(sign_in_clock_wrong(5_000, received));
        assert!(!sign_in_clock_wrong(978_307_200_000, received));
        assert!(!sign_in_clock_wrong(received - 30 * DAY_MS, received));
        // Ahead of the server: marked, beyond a little drift.
        assert!(!sign_in_clock_wrong(
            received + CLOCK_AHEAD_TOLERANCE_MS,
            received
        ));
        assert!(sign_in_clock_wrong(
            received + CLOCK_AHEAD_TOLERANCE_MS + 1,
            received
        ));
        // Out before in: marked.
        let signed_in = received - 3_600_000;
        assert!(!sign_out_clock_wrong(signed_in, signed_in, received));
        assert!(!sign_out_clock_wrong(signed_in, received, received));
        assert!(sign_out_clock_wrong(signed_in, signed_in - 1, received));
        assert!(sign_out_clock_wrong(signed_in, received + DAY_MS, received));
    }

    #[test]
    fn staff_see_times_as_approximate_when_the_server_or_a_reset_clock_says_so() {
        let v = visit_at(1, 1_790_000_000_000);
        let mut snap = snapshot(vec![v.clone()], vec![]);
        assert!(!times_approximate(&v, Some(&snap)));
        assert!(!times_approximate(&v, None));
        snap.clock_wrong.push(v.id);
        assert!(times_approximate(&v, Some(&snap)));
        // Not yet synced, signed in at 1970: this desk can tell by itself.
        assert!(times_approximate(&visit_at(2, 60_000), None));
    }

    #[test]
    fn the_day_starts_at_local_midnight() {
        // 2026-12-03T10:00Z in UTC and at UTC+1.
        let at = 1_796_292_000_000;
        assert_eq!(start_of_day(at, 0), 1_796_256_000_000);
        assert_eq!(start_of_day(at, 60), 1_796_256_000_000 - 3_600_000);
    }

    #[test]
    fn settings_refuse_a_retention_out_of_range() {
        assert_eq!(ReceptionSettings::default().validate(), Ok(()));
        let mut s = ReceptionSettings {
            server_retention_days: 0,
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().field == "server_retention_days");
        s.server_retention_days = 10;
        s.device_retention_days = MAX_RETENTION_DAYS + 1;
        assert!(s.validate().unwrap_err().field == "device_retention_days");
    }

    fn snapshot(on_site: Vec<VisitRecord>, ended_recently: Vec<Uuid>) -> ReceptionSnapshot {
        ReceptionSnapshot {
            academy_id: Uuid::from_u128(1),
            settings: ReceptionSettings::default(),
            hosts: vec![],
            on_site,
            ended_recently,
            clock_wrong: vec![],
            devices: vec![],
            generated_at: 0,
        }
    }

    fn visit_at(n: u128, at: Millis) -> VisitRecord {
        let mut v = visit();
        v.id = Uuid::from_u128(n);
        v.badge_code = badge_code(v.id);
        v.signed_in_at = at;
        v
    }

    #[test]
    fn the_roll_call_merges_this_desk_with_the_others_and_trusts_what_it_knows() {
        let mine_here = visit_at(1, 30);
        let mine_gone = visit_at(2, 10);
        let theirs = visit_at(3, 20);
        let theirs_gone = visit_at(4, 5);
        // The server still lists mine_gone: its sign-out has not synced.
        let snap = snapshot(
            vec![mine_gone.clone(), theirs.clone(), theirs_gone.clone()],
            vec![theirs_gone.id],
        );
        let local = [(&mine_here, false), (&mine_gone, true)];
        let ids: Vec<_> = on_site(local, Some(&snap)).iter().map(|v| v.id).collect();
        assert_eq!(ids, vec![theirs.id, mine_here.id]);
        // Offline and never synced: only this desk's own.
        let ids: Vec<_> = on_site(local, None).iter().map(|v| v.id).collect();
        assert_eq!(ids, vec![mine_here.id]);
    }
}
