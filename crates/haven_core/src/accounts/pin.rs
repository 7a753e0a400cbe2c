//! The PIN that unlocks Haven on a shared device: digits only, and not one of
//! the patterns tried first. Wrong tries on the device are limited
//! ([`MAX_WRONG_PINS`]), so six digits are enough for most people. The limit
//! lives in the same browser files as the PIN-wrapped key, though: someone
//! with a copy of them tries PINs offline at their own speed (six digits
//! fall in minutes on one GPU; docs/threat-model.md). So the people whose
//! PIN guards more than their own work, those who can read other people's
//! incidents ([`LONGER_PIN_ROLES`]), choose at least
//! [`MIN_PIN_DIGITS_INCIDENT_READERS`] digits ([`check_new_pin_for`]).

use super::roles::{Grants, Role};

/// Fewest digits a PIN may have.
pub const MIN_PIN_DIGITS: usize = 6;
/// Fewest digits for someone holding one of [`LONGER_PIN_ROLES`]: 10^4 times
/// the offline guessing of six, days to months on one GPU instead of minutes.
pub const MIN_PIN_DIGITS_INCIDENT_READERS: usize = 10;
/// The roles that read other people's incidents: the DSL, e-safety lead and
/// headteacher at their academy, a trust admin everywhere. Their unlocked
/// key opens a session that reads them all, so their PIN is longer.
pub const LONGER_PIN_ROLES: [Role; 4] = [
    Role::Dsl,
    Role::EsafetyLead,
    Role::Headteacher,
    Role::TrustAdmin,
];
/// Most digits a PIN may have.
pub const MAX_PIN_DIGITS: usize = 12;
/// Wrong PINs in a row before the device asks for the password instead.
pub const MAX_WRONG_PINS: u32 = 5;

/// Why a new PIN was refused, said as what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinProblem {
    #[error("Use digits 0 to 9 only")]
    NotDigits,
    #[error("Use at least {min} digits")]
    TooShort { min: usize },
    #[error(
        "Use at least {min} digits: your role ({role}) can read incidents, so your PIN must be \
         harder to guess if this device is lost or its files are copied"
    )]
    TooShortForRole { min: usize, role: &'static str },
    #[error("Use at most {max} digits")]
    TooLong { max: usize },
    #[error("This PIN is too easy to guess (a repeated digit, a run like 123456 or a repeated pattern like 121212); choose another")]
    TooEasy,
}

/// Checks a PIN a person chose.
pub fn check_new_pin(pin: &str) -> Result<(), PinProblem> {
    if !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(PinProblem::NotDigits);
    }
    // All ASCII now, so bytes are digits.
    let digits = pin.as_bytes();
    if digits.len() < MIN_PIN_DIGITS {
        return Err(PinProblem::TooShort {
            min: MIN_PIN_DIGITS,
        });
    }
    if digits.len() > MAX_PIN_DIGITS {
        return Err(PinProblem::TooLong {
            max: MAX_PIN_DIGITS,
        });
    }
    if is_run(digits) || is_repeated(digits) {
        return Err(PinProblem::TooEasy);
    }
    Ok(())
}

/// Fewest digits `grants` may choose: [`MIN_PIN_DIGITS_INCIDENT_READERS`]
/// for anyone holding one of [`LONGER_PIN_ROLES`], else [`MIN_PIN_DIGITS`].
pub fn min_pin_digits(grants: &Grants) -> usize {
    match longer_pin_role(grants) {
        Some(_) => MIN_PIN_DIGITS_INCIDENT_READERS,
        None => MIN_PIN_DIGITS,
    }
}

/// The first of [`LONGER_PIN_ROLES`] that `grants` holds, if any.
fn longer_pin_role(grants: &Grants) -> Option<Role> {
    LONGER_PIN_ROLES
        .into_iter()
        .find(|role| grants.0.iter().any(|g| g.role == *role))
}

/// Checks a PIN chosen by someone holding `grants`: [`check_new_pin`], and
/// for the roles that read incidents, at least
/// [`MIN_PIN_DIGITS_INCIDENT_READERS`] digits, with the role named.
pub fn check_new_pin_for(pin: &str, grants: &Grants) -> Result<(), PinProblem> {
    check_new_pin(pin)?;
    match longer_pin_role(grants) {
        Some(role) if pin.len() < MIN_PIN_DIGITS_INCIDENT_READERS => {
            Err(PinProblem::TooShortForRole {
                min: MIN_PIN_DIGITS_INCIDENT_READERS,
                role: role.label(),
            })
        }
        _ => Ok(()),
    }
}

/// Each digit one more than the last (or each one less), wrapping 9 to 0:
/// 123456, 987654, 7890123.
fn is_run(digits: &[u8]) -> bool {
    let steps = |step: u8| {
        digits
            .windows(2)
            .all(|w| (w[0] - b'0' + step) % 10 == w[1] - b'0')
    };
    steps(1) || steps(9)
}

/// The first 1 to len/2 digits repeated to fill the PIN: 111111, 121212,
/// 123123, 12341234.
fn is_repeated(digits: &[u8]) -> bool {
    (1..=digits.len() / 2).any(|period| {
        digits.len() % period == 0 && digits.chunks(period).all(|c| c == &digits[..period])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::roles::RoleGrant;
    use uuid::Uuid;

    fn holding(roles: &[Role]) -> Grants {
        Grants(
            roles
                .iter()
                .map(|&role| RoleGrant {
                    role,
                    academy_id: role.is_academy_role().then_some(Uuid::from_u128(1)),
                })
                .collect(),
        )
    }

    #[test]
    fn those_who_read_incidents_need_ten_digits_and_are_told_why() {
        for role in LONGER_PIN_ROLES {
            let grants = holding(&[Role::Staff, role]);
            assert_eq!(min_pin_digits(&grants), 10, "{role:?}");
            for short in ["284615", "2846159", "28461590", "284615902"] {
                assert_eq!(
                    check_new_pin_for(short, &grants),
                    Err(PinProblem::TooShortForRole {
                        min: 10,
                        role: role.label()
                    }),
                    "{role:?} {short}"
                );
            }
            assert_eq!(check_new_pin_for("2846159027", &grants), Ok(()));
            assert_eq!(check_new_pin_for("739102846517", &grants), Ok(()));
        }
        let dsl = holding(&[Role::Dsl]);
        assert_eq!(
            check_new_pin_for("284615", &dsl).unwrap_err().to_string(),
            "Use at least 10 digits: your role (Designated safeguarding lead (DSL)) can read \
             incidents, so your PIN must be harder to guess if this device is lost or its files \
             are copied"
        );
    }

    #[test]
    fn the_other_rules_still_apply_to_a_long_pin() {
        let dsl = holding(&[Role::Dsl]);
        assert_eq!(
            check_new_pin_for("1234567890", &dsl),
            Err(PinProblem::TooEasy)
        );
        assert_eq!(
            check_new_pin_for("28461590a2", &dsl),
            Err(PinProblem::NotDigits)
        );
        assert_eq!(
            check_new_pin_for("2846159027318", &dsl),
            Err(PinProblem::TooLong { max: 12 })
        );
        // Too short for anyone: the general rule is what is said.
        assert_eq!(
            check_new_pin_for("28461", &dsl),
            Err(PinProblem::TooShort { min: 6 })
        );
    }

    #[test]
    fn everyone_else_keeps_six_digits() {
        for roles in [
            &[Role::Staff][..],
            &[Role::Governor],
            &[Role::Volunteer],
            &[Role::CommunityUser],
            &[],
        ] {
            let grants = holding(roles);
            assert_eq!(min_pin_digits(&grants), MIN_PIN_DIGITS, "{roles:?}");
            assert_eq!(check_new_pin_for("284615", &grants), Ok(()), "{roles:?}");
        }
        let not_longer: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| !LONGER_PIN_ROLES.contains(r))
            .collect();
        assert_eq!(
            not_longer,
            [
                Role::Staff,
                Role::Governor,
                Role::Volunteer,
                Role::CommunityUser
            ]
        );
    }

    #[test]
    fn a_six_digit_pin_without_a_pattern_is_accepted() {
        for pin in ["284615", "902731", "558203", "739102846517"] {
            assert_eq!(check_new_pin(pin), Ok(()), "{pin}");
        }
    }

    #[test]
    fn only_ascii_digits_are_accepted() {
        for pin in ["12a456", "12 3456", "１２３４５６", "-284615", "28461.5"] {
            assert_eq!(check_new_pin(pin), Err(PinProblem::NotDigits), "{pin}");
        }
    }

    #[test]
    fn pins_have_6_to_12_digits() {
        assert_eq!(check_new_pin(""), Err(PinProblem::TooShort { min: 6 }));
        assert_eq!(check_new_pin("28461"), Err(PinProblem::TooShort { min: 6 }));
        assert_eq!(
            check_new_pin("2846159027318"),
            Err(PinProblem::TooLong { max: 12 })
        );
        assert_eq!(
            check_new_pin("28461").unwrap_err().to_string(),
            "Use at least 6 digits"
        );
    }

    #[test]
    fn one_repeated_digit_is_too_easy() {
        assert_eq!(check_new_pin("000000"), Err(PinProblem::TooEasy));
        assert_eq!(check_new_pin("77777777"), Err(PinProblem::TooEasy));
    }

    #[test]
    fn ascending_and_descending_runs_are_too_easy() {
        for pin in [
            "123456",
            "987654",
            "456789",
            "7890123",
            "1234567890",
            "3210987",
        ] {
            assert_eq!(check_new_pin(pin), Err(PinProblem::TooEasy), "{pin}");
        }
    }

    #[test]
    fn repeated_pairs_and_triples_are_too_easy() {
        for pin in ["121212", "123123", "909090", "12341234", "275275275"] {
            assert_eq!(check_new_pin(pin), Err(PinProblem::TooEasy), "{pin}");
        }
        assert_eq!(check_new_pin("1212123"), Ok(()));
    }
}
