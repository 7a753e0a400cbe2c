//! The PIN that unlocks Haven on a shared device: digits only, and not one of
//! the patterns tried first. Wrong tries are limited ([`MAX_WRONG_PINS`]), so
//! six digits are enough.

/// Fewest digits a PIN may have.
pub const MIN_PIN_DIGITS: usize = 6;
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
