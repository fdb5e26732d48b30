//! Vietnamese task titles and update texts from templates, after the work
//! the seed report describes: monthly socio-economic reports, survey
//! fieldwork, data processing, IT, analysis and dissemination.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use tasknet_proto::v1::UnitCategory;

const PROVINCIAL: &[&str] = &[
    "Báo cáo tình hình kinh tế - xã hội tháng {m}/{y}",
    "Báo cáo tình hình kinh tế - xã hội tháng {m}/{y}",
    "Báo cáo nhanh kết quả sản xuất nông nghiệp tháng {m}/{y}",
    "Thu thập thông tin Điều tra lao động việc làm tháng {m}/{y}",
    "Thu thập giá tiêu dùng kỳ tháng {m}/{y}",
    "Thu thập thông tin Điều tra doanh nghiệp năm {y}",
    "Giám sát thu thập thông tin Điều tra doanh nghiệp năm {y}",
    "Nghiệm thu phiếu Điều tra chăn nuôi kỳ 01/4/{y}",
    "Xử lý, tổng hợp số liệu Điều tra biến động dân số và kế hoạch hóa gia đình 01/4/{y}",
    "Cập nhật cơ sở dữ liệu doanh nghiệp trên địa bàn quý {q}/{y}",
    "Biên soạn số liệu tổng sản phẩm trên địa bàn (GRDP) quý {q}/{y}",
    "Phát hành Niên giám thống kê tỉnh năm {p}",
    "Tập huấn nghiệp vụ cho điều tra viên Điều tra lao động việc làm năm {y}",
    "Bảo trì hệ thống mạng và thiết bị tin học của Cục",
    "Rà soát, cập nhật bảng kê đơn vị hành chính và địa bàn điều tra",
    "Cung cấp thông tin thống kê phục vụ kỳ họp Hội đồng nhân dân tỉnh",
    "Báo cáo chỉ tiêu thống kê phục vụ đánh giá thực hiện Nghị quyết của Tỉnh ủy",
    "Phổ biến số liệu kinh tế - xã hội quý {q}/{y} trên trang thông tin điện tử",
];

const CENTRAL: &[&str] = &[
    "Biên soạn số liệu tổng sản phẩm trong nước (GDP) quý {q}/{y}",
    "Biên soạn chỉ số giá tiêu dùng tháng {m}/{y}",
    "Tổng hợp báo cáo tình hình kinh tế - xã hội tháng {m}/{y}",
    "Xây dựng phương án Điều tra doanh nghiệp năm {n}",
    "Xử lý, tổng hợp kết quả Điều tra lao động việc làm quý {q}/{y}",
    "Nâng cấp phần mềm thu thập thông tin trên thiết bị di động (CAPI)",
    "Phát triển hệ thống cơ sở dữ liệu thống kê quốc gia",
    "Phân tích, dự báo tăng trưởng kinh tế quý {q}/{y}",
    "Biên soạn Niên giám thống kê năm {p}",
    "Kiểm tra chuyên ngành thống kê tại các Cục Thống kê",
    "Chuẩn bị nội dung họp báo công bố số liệu thống kê quý {q}/{y}",
    "Hoàn thiện bộ chỉ tiêu thống kê phát triển bền vững của Việt Nam",
    "Phối hợp với các Bộ, ngành khai thác dữ liệu hành chính phục vụ thống kê",
    "Rà soát, cập nhật các bảng phân loại thống kê",
    "Thẩm định số liệu tổng sản phẩm trên địa bàn các tỉnh quý {q}/{y}",
];

const PUBLIC_SERVICE: &[&str] = &[
    "Tổ chức lớp bồi dưỡng nghiệp vụ thống kê cho công chức cấp xã",
    "Tuyển sinh hệ cao đẳng năm {y}",
    "Nghiệm thu đề tài nghiên cứu khoa học cấp Tổng cục năm {y}",
    "Biên tập, phát hành Tạp chí Con số và Sự kiện tháng {m}/{y}",
    "Xây dựng chương trình đào tạo nghiệp vụ điều tra viên thống kê",
    "Hỗ trợ kỹ thuật xử lý số liệu điều tra thống kê quý {q}/{y}",
    "Tổ chức hội thảo khoa học về thống kê nhà nước",
];

const PROGRESS_NOTES: &[&str] = &[
    "Đang triển khai",
    "Đã hoàn thành khoảng một nửa khối lượng công việc",
    "Đang tổng hợp số liệu",
    "Chờ ý kiến chỉ đạo của Lãnh đạo Tổng cục",
    "Thiếu nhân lực, đang bố trí thêm người thực hiện",
];

const EXTENSION_REASONS: &[&str] = &[
    "Gia hạn do chờ số liệu từ các Bộ, ngành",
    "Gia hạn theo đề nghị của đơn vị do thiếu nhân lực",
    "Gia hạn do trang thiết bị, phần mềm chưa đáp ứng",
    "Điều chỉnh thời hạn theo kế hoạch của Tổng cục",
];

const COMPLETION_NOTES: &[&str] = &[
    "Đã hoàn thành",
    "Đã gửi báo cáo về Tổng cục",
    "Đã hoàn thành, kết quả lưu trên hệ thống",
    "",
];

const REOPEN_REASONS: &[&str] = &[
    "Bổ sung, hoàn thiện theo ý kiến chỉ đạo",
    "Rà soát lại số liệu",
    "Trả lại để chỉnh sửa báo cáo",
];

fn roman_quarter(month: u32) -> &'static str {
    match month {
        1..=3 => "I",
        4..=6 => "II",
        7..=9 => "III",
        _ => "IV",
    }
}

fn choose(rng: &mut ChaCha8Rng, options: &'static [&'static str]) -> &'static str {
    options.choose(rng).copied().unwrap_or_default()
}

/// A title for a task of a unit of `category` assigned on `assigned`; the
/// month and quarter in it are those of the assigned date.
pub fn task_title(rng: &mut ChaCha8Rng, category: UnitCategory, assigned: NaiveDate) -> String {
    let templates = match category {
        UnitCategory::ProvincialOffice => PROVINCIAL,
        UnitCategory::PublicServiceUnit => PUBLIC_SERVICE,
        _ => CENTRAL,
    };
    let year = assigned.year();
    choose(rng, templates)
        .replace("{m}", &assigned.month().to_string())
        .replace("{q}", roman_quarter(assigned.month()))
        .replace("{y}", &year.to_string())
        .replace("{p}", &(year - 1).to_string())
        .replace("{n}", &(year + 1).to_string())
}

pub fn progress_note(rng: &mut ChaCha8Rng) -> String {
    choose(rng, PROGRESS_NOTES).to_owned()
}

pub fn extension_reason(rng: &mut ChaCha8Rng) -> String {
    choose(rng, EXTENSION_REASONS).to_owned()
}

pub fn completion_note(rng: &mut ChaCha8Rng) -> String {
    choose(rng, COMPLETION_NOTES).to_owned()
}

pub fn reopen_reason(rng: &mut ChaCha8Rng) -> String {
    choose(rng, REOPEN_REASONS).to_owned()
}

/// A seeded weight in 50..=150 (central departments and public service
/// units differ in workload, but none is idle).
pub fn unit_weight(rng: &mut ChaCha8Rng) -> u64 {
    rng.random_range(50..=150)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn titles_fill_every_placeholder() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let day = NaiveDate::from_ymd_opt(2024, 5, 14).unwrap();
        for category in [
            UnitCategory::ProvincialOffice,
            UnitCategory::CentralDepartment,
            UnitCategory::PublicServiceUnit,
        ] {
            for _ in 0..200 {
                let title = task_title(&mut rng, category, day);
                assert!(!title.contains('{'), "{title}");
                assert!(!title.is_empty());
            }
        }
        let mut seen_month = false;
        for _ in 0..200 {
            let title = task_title(&mut rng, UnitCategory::ProvincialOffice, day);
            seen_month |= title.contains("tháng 5/2024") || title.contains("quý II/2024");
        }
        assert!(seen_month);
    }
}
