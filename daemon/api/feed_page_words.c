/* feed_page_words.c - the words of a feed's subscribe page in each
 * language it speaks (Vietnamese, English), and which one a viewer gets:
 * ?lang= when the page speaks it, else the best of Accept-Language, else
 * English. */
#include "api/feed_page.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const page_kind_names[PAGE_KINDS] = {"visit", "festival", "deadline", "meeting"};

static const struct page_words vi = {
    .tag = "vi",
    .language = "Tiếng Việt",
    .calendar_of = "Lịch của ",
    .subscribe = "Thêm lịch này vào ứng dụng lịch của bạn",
    .google = "Google Calendar",
    .outlook = "Outlook.com",
    .m365 = "Microsoft 365 (cơ quan, trường học)",
    .apple = "Lịch Apple (iPhone, iPad, Mac)",
    .or_copy = "Hoặc sao chép địa chỉ này vào ứng dụng lịch bất kỳ (Thunderbird, ICSx⁵…):",
    .copy = "Sao chép",
    .copied = "Đã sao chép",
    .key_note = "Địa chỉ này là chìa khóa của lịch: chỉ chia sẻ với người được phép xem.",
    .refresh_note = "Ứng dụng lịch tự cập nhật theo lịch riêng của chúng: Google Calendar "
                    "khoảng 8 đến 24 giờ một lần.",
    .agenda = "60 ngày tới",
    .nothing = "Không có mục nào trong 60 ngày tới.",
    .more = "Lịch này có nhiều mục hơn trang này hiển thị: hãy thêm lịch để xem tất cả.",
    .all_day = "Cả ngày",
    .until = "đến",
    .times_in = "Giờ theo múi giờ ",
    .cancelled = "Đã hủy",
    .rescheduled = "Đã dời lịch",
    .tentative = "Dự kiến",
    .details = "Chi tiết",
    .with = "cùng ",
    .open_full = "Thêm lịch này",
    .kinds = {"Chuyến thăm", "Sự kiện", "Hạn chót", "Cuộc họp"},
    .weekdays = {"Chủ Nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"},
    .months = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"},
    .day_first_numeric = 1,
};

static const struct page_words en = {
    .tag = "en",
    .language = "English",
    .calendar_of = "Calendar of ",
    .subscribe = "Add this calendar to your calendar app",
    .google = "Google Calendar",
    .outlook = "Outlook.com",
    .m365 = "Microsoft 365 (work or school)",
    .apple = "Apple Calendar (iPhone, iPad, Mac)",
    .or_copy = "Or copy this address into any calendar app (Thunderbird, ICSx⁵…):",
    .copy = "Copy",
    .copied = "Copied",
    .key_note = "This address is the key to the calendar: share it only with whom may see it.",
    .refresh_note = "Calendar apps refresh a subscribed calendar on their own schedule: Google "
                    "Calendar every 8 to 24 hours.",
    .agenda = "Next 60 days",
    .nothing = "Nothing in the next 60 days.",
    .more = "This calendar has more items than this page shows: subscribe to see them all.",
    .all_day = "All day",
    .until = "until",
    .times_in = "Times in ",
    .cancelled = "Cancelled",
    .rescheduled = "Rescheduled",
    .tentative = "Tentative",
    .details = "Details",
    .with = "with ",
    .open_full = "Add this calendar",
    .kinds = {"Visit", "Festival", "Deadline", "Meeting"},
    .weekdays = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
    .months = {"January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"},
};

const struct page_words *const page_languages[] = {&vi, &en};
const size_t page_nlanguages = sizeof(page_languages) / sizeof(page_languages[0]);

const char *feed_page_lang_tag(const struct page_words *w)
{
	return w->tag;
}

/* The page's language for a tag ("vi-VN" is vi), or NULL. */
static const struct page_words *spoken(const char *tag, size_t len)
{
	for (size_t i = 0; i < page_nlanguages; i++) {
		size_t n = strlen(page_languages[i]->tag);
		if (len >= n && !strncasecmp(tag, page_languages[i]->tag, n) &&
		    (len == n || tag[n] == '-'))
			return page_languages[i];
	}
	return NULL;
}

/* A language tag as RFC 5646 spells one: letters, then subtags of
 * letters and digits after hyphens, at most 35 characters. */
static int tag_well_formed(const char *s, size_t len)
{
	if (len == 0 || len > 35 || !((*s | 32) >= 'a' && (*s | 32) <= 'z'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int ok = ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9') ||
		         (c == '-' && i + 1 < len && s[i + 1] != '-');
		if (!ok)
			return 0;
	}
	return 1;
}

/* Accept-Language (RFC 9110 §12.5.4): the spoken language of the highest
 * weight, the first of equal ones; "*" and q=0 choose nothing. */
static const struct page_words *negotiate(const char *accept)
{
	const struct page_words *best = NULL;
	double best_q = 0;
	for (const char *p = accept; p && *p;) {
		size_t len = strcspn(p, ",");
		const char *end = p + len;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		size_t taglen = strcspn(p, ";, \t");
		if (taglen > (size_t)(end - p))
			taglen = (size_t)(end - p);
		double q = 1;
		const char *semi = memchr(p, ';', (size_t)(end - p));
		if (semi) {
			const char *v = semi + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			if (end - v >= 2 && (v[0] | 32) == 'q' && v[1] == '=') {
				char num[8] = "";
				size_t nl = (size_t)(end - v - 2) < sizeof(num) - 1
				                ? (size_t)(end - v - 2)
				                : sizeof(num) - 1;
				memcpy(num, v + 2, nl);
				q = strtod(num, NULL);
			}
		}
		const struct page_words *w = spoken(p, taglen);
		if (w && q > best_q) {
			best = w;
			best_q = q;
		}
		p = *end ? end + 1 : end;
	}
	return best;
}

const struct page_words *feed_page_language(const char *query_lang, const char *accept, int *bad)
{
	*bad = query_lang && !tag_well_formed(query_lang, strlen(query_lang));
	const struct page_words *w =
	    query_lang && !*bad ? spoken(query_lang, strlen(query_lang)) : NULL;
	if (!w)
		w = negotiate(accept);
	return w ? w : &en;
}
