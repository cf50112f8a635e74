// Touchscreen and Raspberry Pi housing with its stand, in front of the platform.
//
// Units mm. Defaults: the official Raspberry Pi 7" Touch Display (800x480): glass
// 194 x 110.76, 20 deep behind the glass with its driver board, M3 holes in its metal frame
// 126.2 x 65.65 apart; the Pi 4 or 5 sits on the display's own standoffs on its back. Check
// the numbers against your panel's drawing before printing: they are parameters for that.
// The bezel clamps the glass from the front; the back shell is screwed to the display's frame
// through four standoffs, makes room for the Pi and takes the plate cable and power at the
// bottom; the stand tilts it toward a standing patient.
//
// part: "assembly", "bezel", "back", "stand".

part = "assembly";

/* [Display] */
glass = [194, 110.76, 5.5];       // glass outline and thickness at the edge
view = [155, 86];                 // visible area
view_offset = [0, 0];             // centre of the visible area relative to the glass centre
frame_holes = [126.2, 65.65];     // M3 holes in the display's metal frame
frame_back = 10;                  // glass front to the frame's back face (where the holes are)
display_depth = 20;               // glass front to the back of the driver board
pi_depth = 25;                    // Pi with standoffs and connectors, behind the display

/* [Housing] */
wall = 2.5;
bezel_border = 6;                 // bezel beyond the glass
bezel_front = 2;                  // bezel lip in front of the glass
corner_r = 6;
vent_n = 8;
vent = [40, 3];
cable_slot = [60, 12];            // plate cable, power and USB at the bottom edge
stand_holes = 60;                 // two M5 holes, back centre, to the stand

/* [Stand] */
stand_angle = 65;                 // screen plane from horizontal
stand_foot = [220, 160, 6];
stand_plate = [90, 70, 6];
stand_height = 120;               // mounting plate centre above the foot (table or pole top)

outer = [glass[0] + 2 * bezel_border, glass[1] + 2 * bezel_border];
bezel_h = bezel_front + glass[2];
back_h = display_depth - glass[2] + pi_depth + wall;

echo("BEZEL", outer[0], outer[1], bezel_h);
echo("BACK", outer[0], outer[1], back_h);
echo("WINDOW", view[0], view[1]);
echo("STAND_FOOT", stand_foot[0], stand_foot[1], stand_foot[2]);
echo("GLASS", glass[0], glass[1]);

module rounded_rect(size, r) {
    offset(r = r) square([size[0] - 2 * r, size[1] - 2 * r], center = true);
}

module corner_screws(h, d) {
    for (sx = [-1, 1], sy = [-1, 1])
        translate([sx * (outer[0] / 2 - bezel_border / 2 - 1),
                   sy * (outer[1] / 2 - bezel_border / 2 - 1), 0])
            cylinder(d = d, h = h);
}

// Front frame: window over the visible area, recess from behind for the glass.
module bezel() {
    difference() {
        linear_extrude(bezel_h) rounded_rect(outer, corner_r);
        translate([view_offset[0], view_offset[1], -1])
            linear_extrude(bezel_h + 2) rounded_rect([view[0] + 1, view[1] + 1], 1);
        translate([0, 0, bezel_front])
            linear_extrude(bezel_h) square([glass[0] + 0.6, glass[1] + 0.6], center = true);
        translate([0, 0, -1]) corner_screws(bezel_h + 2, 2.6);
    }
}

// Back shell, open toward the bezel; z = 0 is the face against the bezel.
module back() {
    difference() {
        linear_extrude(back_h) rounded_rect(outer, corner_r);
        translate([0, 0, -1]) linear_extrude(back_h - wall + 1)
            rounded_rect([outer[0] - 2 * wall, outer[1] - 2 * wall], corner_r - wall);
        for (i = [0 : vent_n - 1])
            translate([0, -outer[1] / 2 + 25 + i * (outer[1] - 50) / max(1, vent_n - 1),
                       back_h - wall - 1])
                linear_extrude(wall + 2) rounded_rect(vent, vent[1] / 2 - 0.01);
        translate([0, -outer[1] / 2 + wall / 2, (back_h - wall) / 2])
            cube([cable_slot[0], wall + 2, cable_slot[1]], center = true);
        for (sx = [-1, 1])
            translate([sx * stand_holes / 2, 0, back_h - wall - 1]) cylinder(d = 5.5, h = wall + 2);
        translate([0, 0, -1]) corner_screws(back_h + 2, 3.4);
        frame_standoffs(back_h - wall - 1, wall + 2, 3.4);
    }
    // screw bosses in the corners for the bezel screws (M3 x 40 through the bezel)
    difference() {
        corner_screws(back_h - wall, bezel_border + 2);
        translate([0, 0, -1]) corner_screws(back_h + 2, 3.4);
    }
    // standoffs from the back wall to the display's frame: M3 from outside into the frame
    standoff_z = frame_back - glass[2];
    difference() {
        frame_standoffs(standoff_z, back_h - wall - standoff_z + 0.01, 7);
        frame_standoffs(standoff_z - 1, back_h, 3.4);
    }
}

module frame_standoffs(z, h, d) {
    for (sx = [-1, 1], sy = [-1, 1])
        translate([sx * frame_holes[0] / 2, sy * frame_holes[1] / 2, z]) cylinder(d = d, h = h);
}

// Stand: a foot plate, two cheeks and the tilted mounting plate with the two M5 holes; the
// plate's top face (local z = 0 before the tilt) bears against the back shell.
module stand() {
    a = stand_angle;
    difference() {
        union() {
            translate([-stand_foot[0] / 2, -stand_foot[1] / 2, 0]) cube(stand_foot);
            translate([0, 0, stand_height]) rotate([a, 0, 0])
                translate([-stand_plate[0] / 2, -stand_plate[1] / 2, -stand_plate[2]])
                    cube(stand_plate);
            for (sx = [-1, 1])
                translate([sx * (stand_plate[0] / 2 - 4), 0, 0]) hull() {
                    translate([-4, -stand_foot[1] / 2 + 10, 0]) cube([8, stand_foot[1] - 20, 1]);
                    translate([0, 0, stand_height]) rotate([a, 0, 0])
                        translate([-4, -stand_plate[1] / 2, -stand_plate[2]])
                            cube([8, stand_plate[1], 1]);
                }
        }
        translate([0, 0, stand_height]) rotate([a, 0, 0])
            for (sx = [-1, 1]) translate([sx * stand_holes / 2, 0, -20]) cylinder(d = 5.5, h = 40);
    }
}

module assembly() {
    translate([0, 0, stand_height]) rotate([a_screen(), 0, 0]) {
        color("dimgray") translate([0, 0, back_h]) mirror([0, 0, 1]) back();
        color("black") translate([0, 0, back_h]) bezel();
    }
    color("gray") stand();
}
// The screen faces the patient (-y, back toward the platform) and looks up at stand_angle.
function a_screen() = stand_angle;

if (part == "assembly") assembly();
else if (part == "bezel") bezel();
else if (part == "back") back();
else if (part == "stand") stand();
else assert(false, str("unknown part: ", part));
