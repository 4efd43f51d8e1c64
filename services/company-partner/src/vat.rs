//! VAT identification numbers: normalization, and the format and check
//! digit of the countries this service knows (AT, BE, DE, FR, IT, NL).
//! Others are reported as not checkable rather than guessed at.

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid; the number in canonical form (`DE136695976`).
    Valid(String),
    /// Not valid, and why.
    Invalid(String),
}

/// Checks `number` for `country` (ISO 3166-1 alpha-2, upper case). Spaces,
/// dots and hyphens are ignored, and so is a leading country prefix.
pub fn check(country: &str, number: &str) -> Verdict {
    let mut digits: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if let Some(rest) = digits.strip_prefix(country) {
        digits = rest.to_owned();
    }
    let valid = match country {
        "AT" => austria(&digits),
        "BE" => {
            if digits.len() == 9 {
                digits.insert(0, '0');
            }
            belgium(&digits)
        }
        "DE" => germany(&digits),
        "FR" => france(&digits),
        "IT" => italy(&digits),
        "NL" => netherlands(&digits),
        _ => return Verdict::Invalid(format!("VAT numbers of {country} cannot be checked here")),
    };
    match valid {
        Ok(()) => Verdict::Valid(format!("{country}{digits}")),
        Err(reason) => Verdict::Invalid(reason),
    }
}

type Check = Result<(), String>;

fn numbers(text: &str, length: usize, what: &str) -> Result<Vec<u32>, String> {
    let digits: Option<Vec<u32>> = text.chars().map(|c| c.to_digit(10)).collect();
    match digits {
        Some(digits) if digits.len() == length => Ok(digits),
        _ => Err(format!("{what} must be {length} digits")),
    }
}

fn check_digit(valid: bool) -> Check {
    if valid {
        Ok(())
    } else {
        Err("the check digits do not match".into())
    }
}

/// `U` and 8 digits; the last is a weighted digit-sum check.
fn austria(number: &str) -> Check {
    let d = numbers(
        number.strip_prefix('U').ok_or("an Austrian number starts with U")?,
        8,
        "the number after U",
    )?;
    let sum: u32 = d[..7]
        .iter()
        .zip([1, 2, 1, 2, 1, 2, 1])
        .map(|(digit, weight)| {
            let product = digit * weight;
            product / 10 + product % 10
        })
        .sum();
    check_digit((10 - (sum + 4) % 10) % 10 == d[7])
}

/// 10 digits starting with 0 or 1; the last two are 97 minus the first
/// eight modulo 97.
fn belgium(number: &str) -> Check {
    let d = numbers(number, 10, "a Belgian number")?;
    if d[0] > 1 {
        return Err("a Belgian number starts with 0 or 1".into());
    }
    let first = d[..8].iter().fold(0u64, |n, digit| n * 10 + u64::from(*digit));
    let last = u64::from(d[8] * 10 + d[9]);
    check_digit(97 - first % 97 == last)
}

/// 9 digits; the last is ISO 7064 MOD 11,10 of the first eight.
fn germany(number: &str) -> Check {
    let d = numbers(number, 9, "a German number")?;
    let mut product = 10;
    for digit in &d[..8] {
        let sum = match (digit + product) % 10 {
            0 => 10,
            sum => sum,
        };
        product = (2 * sum) % 11;
    }
    check_digit((11 - product) % 10 == d[8])
}

/// A two-digit key and the 9-digit SIREN; key = (12 + 3 × (SIREN mod 97)) mod 97.
fn france(number: &str) -> Check {
    let d = numbers(number, 11, "a French number (key and SIREN)")?;
    let key = d[0] * 10 + d[1];
    let siren = d[2..].iter().fold(0u64, |n, digit| n * 10 + u64::from(*digit));
    check_digit(u64::from(key) == (12 + 3 * (siren % 97)) % 97)
}

/// 11 digits with a Luhn check digit.
fn italy(number: &str) -> Check {
    let d = numbers(number, 11, "an Italian number")?;
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(position, digit)| match position % 2 {
            0 => *digit,
            _ if *digit * 2 > 9 => digit * 2 - 9,
            _ => digit * 2,
        })
        .sum();
    check_digit(sum.is_multiple_of(10))
}

/// 9 digits, `B` and 2 digits; the ninth digit is a weighted sum modulo 11
/// (or, for numbers issued since 2020, the whole is 1 modulo 97).
fn netherlands(number: &str) -> Check {
    let (body, suffix) = number
        .split_once('B')
        .ok_or("a Dutch number has the form 123456789B01")?;
    let d = numbers(body, 9, "a Dutch number before B")?;
    numbers(suffix, 2, "a Dutch number after B")?;
    let weighted: u32 = d[..8]
        .iter()
        .zip((2..=9).rev())
        .map(|(digit, weight)| digit * weight)
        .sum();
    let classic = weighted % 11 == d[8];
    let modern = format!("2321{body}11{suffix}")
        .chars()
        .filter_map(|c| c.to_digit(10))
        .fold(0u64, |n, digit| (n * 10 + u64::from(digit)) % 97)
        == 1;
    check_digit(classic || modern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_good_numbers_pass_in_any_spelling() {
        let good = [
            ("AT", "ATU13585627", "ATU13585627"),
            ("BE", "BE 0417.497.106", "BE0417497106"),
            ("BE", "417497106", "BE0417497106"),
            ("DE", "136 695 976", "DE136695976"),
            ("DE", "de811569869", "DE811569869"),
            ("FR", "FR40303265045", "FR40303265045"),
            ("IT", "00743110157", "IT00743110157"),
            ("NL", "NL004495445B01", "NL004495445B01"),
        ];
        for (country, number, normalized) in good {
            assert_eq!(check(country, number), Verdict::Valid(normalized.into()), "{number}");
        }
    }

    #[test]
    fn a_changed_digit_fails() {
        for (country, number) in [
            ("AT", "U13585628"),
            ("BE", "0417497107"),
            ("DE", "136695977"),
            ("FR", "41303265045"),
            ("IT", "00743110158"),
            ("NL", "004495446B01"),
        ] {
            assert!(matches!(check(country, number), Verdict::Invalid(_)), "{number}");
        }
    }

    #[test]
    fn wrong_shapes_and_unknown_countries_say_why() {
        let reason = |country, number| match check(country, number) {
            Verdict::Invalid(reason) => reason,
            Verdict::Valid(n) => panic!("{n} passed"),
        };
        assert!(reason("DE", "12345").contains("9 digits"));
        assert!(reason("AT", "13585627").contains("starts with U"));
        assert!(reason("XX", "123").contains("cannot be checked"));
    }
}
