//! Unit categories: parsing from the wire and their names in both languages,
//! as the review report uses them.

use tasknet_proto::v1::UnitCategory;

use crate::FieldError;

/// A required, known category.
pub fn category_from_i32(field: &str, value: i32) -> Result<UnitCategory, FieldError> {
    match UnitCategory::try_from(value) {
        Ok(UnitCategory::Unspecified) => Err(FieldError::missing(field)),
        Ok(category) => Ok(category),
        Err(_) => Err(FieldError::new(
            field,
            format!("{value} is not a unit category"),
        )),
    }
}

/// The Vietnamese name the review report uses for a category.
pub fn category_name_vi(category: UnitCategory) -> &'static str {
    match category {
        UnitCategory::Unspecified => "Chưa phân loại",
        UnitCategory::Headquarters => "Cơ quan Tổng cục Thống kê",
        UnitCategory::CentralDepartment => "Đơn vị trực thuộc Tổng cục Thống kê",
        UnitCategory::PublicServiceUnit => "Đơn vị sự nghiệp công lập",
        UnitCategory::ProvincialOffice => "Cục Thống kê tỉnh, thành phố",
    }
}

pub fn category_name_en(category: UnitCategory) -> &'static str {
    match category {
        UnitCategory::Unspecified => "Unclassified",
        UnitCategory::Headquarters => "Statistics headquarters",
        UnitCategory::CentralDepartment => "Units directly under the GSO",
        UnitCategory::PublicServiceUnit => "Public service units",
        UnitCategory::ProvincialOffice => "Provincial statistics offices",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_and_unknown_categories_are_rejected() {
        assert_eq!(
            category_from_i32("unit.category", 0).unwrap_err().field,
            "unit.category"
        );
        assert!(category_from_i32("unit.category", 99).is_err());
        assert_eq!(
            category_from_i32("unit.category", 4).unwrap(),
            UnitCategory::ProvincialOffice
        );
    }
}
