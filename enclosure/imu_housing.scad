// Wobble-board IMU housing: a BNO085/BNO086 breakout in a printed box screwed to the board.
//
// Units mm. The board tilt is measured about the plate's axes (design.md: roll about y,
// pitch about x), so the housing fixes the breakout square to the board: its +y (the arrow
// on the lid) points forward, toward the screen, and the cable leaves at the back.
// The default PCB is a 25.4 x 17.8 mm breakout with M2.5 holes 2.5 mm in from each corner:
// check your board's drawing and set pcb, pcb_hole_inset and pcb_hole_d before printing.
//
// part: "assembly", "base", "lid".

part = "assembly";

/* [Breakout] */
pcb = [25.4, 17.8, 1.6];
pcb_hole_d = 2.5;
pcb_hole_inset = 2.5;
parts_h = 6;          // tallest part above the PCB (STEMMA QT / JST-SH socket)

/* [Box] */
wall = 2;
floor_t = 2;
clear = 1;            // PCB to wall
standoff_h = 3;
standoff_d = 5;
lid_t = 2;
corner_screw_d = 2.2; // M2.5 self-tapping into the corner posts
post_d = 6;
cable_d = 6;          // 4-core cable with a printed strain relief knot inside
flange_len = 14;      // screw tabs on both sides, fixed to the board's underside
flange_screw_d = 4.5;

inner = [pcb[0] + 2 * clear + 2 * post_d, pcb[1] + 2 * clear + 2 * post_d / 2,
         standoff_h + pcb[2] + parts_h];
outer = [inner[0] + 2 * wall, inner[1] + 2 * wall, inner[2] + floor_t];
flange_t = floor_t + 1;

echo("IMU_BASE", outer[0] + 2 * flange_len, outer[1], outer[2]);
echo("IMU_LID", outer[0], outer[1], lid_t);

// Corner posts merge 1 mm into the walls (a post only touching a wall is not a solid).
module corner_posts(h, d) {
    for (sx = [-1, 1], sy = [-1, 1])
        translate([sx * (inner[0] / 2 - post_d / 2 + 1), sy * (inner[1] / 2 - post_d / 2 + 1), 0])
            cylinder(d = d, h = h);
}

module pcb_holes(h, d) {
    for (sx = [-1, 1], sy = [-1, 1])
        translate([sx * (pcb[0] / 2 - pcb_hole_inset), sy * (pcb[1] / 2 - pcb_hole_inset), 0])
            cylinder(d = d, h = h);
}

module base() {
    difference() {
        union() {
            translate([-outer[0] / 2, -outer[1] / 2, 0]) cube(outer);
            // screw tabs left and right
            translate([-outer[0] / 2 - flange_len, -outer[1] / 2, 0])
                cube([outer[0] + 2 * flange_len, outer[1], flange_t]);
        }
        translate([-inner[0] / 2, -inner[1] / 2, floor_t]) cube([inner[0], inner[1], outer[2]]);
        for (sx = [-1, 1])
            translate([sx * (outer[0] / 2 + flange_len / 2), 0, -1])
                cylinder(d = flange_screw_d, h = flange_t + 2);
        // cable out at the back (-y), above the floor
        translate([0, -outer[1] / 2 + wall + 1, floor_t + standoff_h + cable_d / 2])
            rotate([90, 0, 0]) cylinder(d = cable_d, h = wall + 2);
    }
    translate([0, 0, floor_t]) difference() {
        union() {
            pcb_holes(standoff_h, standoff_d);
            corner_posts(inner[2], post_d);
        }
        translate([0, 0, 0.5]) pcb_holes(standoff_h, pcb_hole_d * 0.85);
        translate([0, 0, inner[2] - 8]) corner_posts(9, corner_screw_d);
    }
}

module lid() {
    difference() {
        translate([-outer[0] / 2, -outer[1] / 2, 0]) cube([outer[0], outer[1], lid_t]);
        translate([0, 0, -1]) corner_posts(lid_t + 2, corner_screw_d + 0.6);
        // "forward" arrow, engraved: +y points to the screen
        translate([0, 0, lid_t - 0.6]) linear_extrude(1) {
            translate([-1, -5]) square([2, 8]);
            polygon([[-4, 3], [4, 3], [0, 8]]);
        }
    }
}

if (part == "assembly") {
    color("orange") base();
    color("gold") translate([0, 0, outer[2] + 5]) lid();
}
else if (part == "base") base();
else if (part == "lid") lid();
else assert(false, str("unknown part: ", part));
