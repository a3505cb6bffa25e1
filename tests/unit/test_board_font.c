/* The waiting-room board's block font (client/board_font.c): every character a board
 * shows has a glyph, every glyph's rows are as wide as its first (drawing reads each row
 * to that width), ink stays inside the width bf_pixels gives, and the digits are all one
 * width so that ticket numbers line up. Under ASan a short row is a read past its end. */
#include "tu.h"

#include "board_font.h"

#include <string.h>

static const char shown[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.:/()~";

typedef struct canvas {
    int w, h, ink, outside;
} canvas;

static void paint(void *ud, int y, int x)
{
    canvas *cv = ud;
    cv->ink++;
    if (y < 0 || y >= cv->h || x < 0 || x >= cv->w)
        cv->outside++;
}

static void test_every_glyph(void **state)
{
    (void)state;
    char all[sizeof shown + 1];
    memcpy(all, shown, sizeof shown);
    all[sizeof shown - 1] = BF_ARROW;
    all[sizeof shown] = 0;
    int digit_w = -1;
    for (const char *p = all; *p; p++) {
        char one[2] = {*p, 0};
        canvas cv = {bf_pixels(one), BF_ROWS, 0, 0};
        if (cv.w <= 0)
            fail_msg("no glyph for '%c' (0x%02x)", *p, (unsigned char)*p);
        bf_draw(one, 0, 0, 1, 1, paint, &cv);
        assert_int_equal(cv.outside, 0);
        if (*p != ' ')
            assert_true(cv.ink > 0);
        if (*p >= '0' && *p <= '9') {
            if (digit_w < 0)
                digit_w = cv.w;
            assert_int_equal(cv.w, digit_w);
        }
    }
    /* lower case is drawn as upper case; an unknown character has no width */
    assert_int_equal(bf_pixels("a-017"), bf_pixels("A-017"));
    assert_int_equal(bf_pixels("A@"), -1);
    /* a whole call: glyphs plus one-pixel gaps, scaled, all inside the box */
    const char *call = "A-017 ROOM 3";
    canvas cv = {bf_pixels(call) * 2, BF_ROWS * 3, 0, 0};
    bf_draw(call, 0, 0, 2, 3, paint, &cv);
    assert_true(cv.ink > 0);
    assert_int_equal(cv.outside, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_glyph)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
