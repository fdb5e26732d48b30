//! Vietnamese text folded to ASCII ("Hà Nội" → "Ha Noi"), for the English
//! names of provincial offices, which English documents write without marks.

/// Each base letter and the precomposed Vietnamese letters that fold to it.
const FOLDS: &[(char, &str)] = &[
    ('a', "àáảãạăằắẳẵặâầấẩẫậ"),
    ('A', "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ"),
    ('e', "èéẻẽẹêềếểễệ"),
    ('E', "ÈÉẺẼẸÊỀẾỂỄỆ"),
    ('i', "ìíỉĩị"),
    ('I', "ÌÍỈĨỊ"),
    ('o', "òóỏõọôồốổỗộơờớởỡợ"),
    ('O', "ÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ"),
    ('u', "ùúủũụưừứửữự"),
    ('U', "ÙÚỦŨỤƯỪỨỬỮỰ"),
    ('y', "ỳýỷỹỵ"),
    ('Y', "ỲÝỶỸỴ"),
    ('d', "đ"),
    ('D', "Đ"),
];

/// `text` with Vietnamese letters replaced by their base letters; other
/// characters are kept as they are.
pub fn fold(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    FOLDS
        .iter()
        .find(|(_, marked)| marked.contains(c))
        .map_or(c, |(base, _)| *base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_names_fold_to_ascii() {
        assert_eq!(fold("Hà Nội"), "Ha Noi");
        assert_eq!(fold("Thừa Thiên Huế"), "Thua Thien Hue");
        assert_eq!(fold("Đắk Lắk"), "Dak Lak");
        assert_eq!(fold("Bà Rịa - Vũng Tàu"), "Ba Ria - Vung Tau");
        assert_eq!(fold("Khánh Hoà"), "Khanh Hoa");
        assert_eq!(fold("ỨNG"), "UNG");
    }
}
