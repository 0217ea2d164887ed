//! Indonesian formatting: balances (`Rp25.750.000`), dates (`31 Oktober 2026`) and waits
//! (`40 detik`, `55 menit`).

/// Month names of the Indonesian locale (formatting data, like the thousands separator).
const MONTHS: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];

/// Rupiah with dots between thousands and no decimals: `Rp4.250.500`.
pub fn rupiah(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
    out.push_str("Rp");
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// An ISO date `2026-10-31` as `31 Oktober 2026`; anything else is shown as it is.
pub fn long_date(iso: &str) -> String {
    let mut parts = iso.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return iso.to_string();
    };
    let month = month.parse::<usize>().ok().filter(|m| (1..=12).contains(m));
    let day = day.parse::<u32>().ok().filter(|d| (1..=31).contains(d));
    match (month, day) {
        (Some(month), Some(day)) => format!("{day} {} {year}", MONTHS[month - 1]),
        _ => iso.to_string(),
    }
}

/// A wait as a member reads it: seconds below two minutes (`45 detik`), whole minutes from
/// there on, rounded up so the member never comes back too early (`55 menit`, not
/// `3295 detik`).
pub fn wait(duration: std::time::Duration) -> String {
    let seconds = duration.as_millis().div_ceil(1000).max(1);
    if seconds < 120 {
        format!("{seconds} detik")
    } else {
        format!("{} menit", seconds.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupiah_groups_thousands_with_dots() {
        assert_eq!(rupiah(25_750_000), "Rp25.750.000");
        assert_eq!(rupiah(4_250_500), "Rp4.250.500");
        assert_eq!(rupiah(999), "Rp999");
        assert_eq!(rupiah(0), "Rp0");
        assert_eq!(rupiah(1_000), "Rp1.000");
    }

    #[test]
    fn dates_are_written_out_in_indonesian() {
        assert_eq!(long_date("2026-10-31"), "31 Oktober 2026");
        assert_eq!(long_date("2026-01-05"), "5 Januari 2026");
        assert_eq!(long_date("2026-13-05"), "2026-13-05");
        assert_eq!(long_date("kemarin"), "kemarin");
    }

    #[test]
    fn waits_are_seconds_under_two_minutes_then_whole_minutes_rounded_up() {
        use std::time::Duration;
        assert_eq!(wait(Duration::from_millis(200)), "1 detik");
        assert_eq!(wait(Duration::from_millis(39_001)), "40 detik");
        assert_eq!(wait(Duration::from_secs(119)), "119 detik");
        assert_eq!(wait(Duration::from_secs(120)), "2 menit");
        assert_eq!(wait(Duration::from_secs(3295)), "55 menit");
    }
}
