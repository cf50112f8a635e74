// Balance-station force platform: a top plate on four load cells over a base plate.
//
// Units mm. Origin at the plate centre; x medio-lateral (positive to the patient's right),
// y antero-posterior (positive forward, toward the screen), z up (shared/design.md).
// The load-cell span and the footprint spacing are the station's configuration: export.py
// passes them with -D from station.toml ([plate] span_ml_m, span_ap_m, foot_spacing_m), so
// the cells sit where the plate model assumes them. Never edit the numbers here for a build.
//
// Cells: the common 50 kg half-bridge "scale" cell (frame with a centre dome that takes the
// load), one per corner, completed to a full bridge on its HX711 board. The dome centre is the
// load point: each printed mount centres its cell on (+-span_ml/2, +-span_ap/2).
// Plates (plywood or aluminium) are cut from the DXF outlines; mounts and caps are printed.
//
// part: "assembly", "top", "base", "mounts", "mount", "cap", "top_dxf", "base_dxf".

/* [Configuration: set by export.py from station.toml] */
span_ml = 400;        // load-cell centre to centre, medio-lateral
span_ap = 400;        // load-cell centre to centre, antero-posterior
foot_spacing = 200;   // between the centres of the two footprints marked on the top plate
part = "assembly";
explode = 0;          // lift the top plate this far in the assembly view (mm)

/* [Plates] */
margin = 60;          // load-cell centre to plate edge
corner_r = 20;        // plate corner radius
top_t = 18;           // top plate thickness (birch plywood)
base_t = 12;          // base plate thickness
edge_w = 30;          // non-slip edge: rebate for anti-slip strip along the top edge
edge_d = 2;           // its depth (the strip sits flush)
foot = [110, 280];    // footprint outline (ML x AP) engraved on the top plate
foot_mark_w = 3;      // engraved line width
foot_mark_d = 1;      // engraved line depth

/* [Load cell and its mount] */
cell = [34, 34];      // cell frame, outside
cell_h = 7;           // frame height
dome_d = 8;           // load dome on the centre beam
dome_h = 2;
mount = [54, 54];     // printed mount block
mount_h = 10;
pocket_d = 4;         // cell frame sunk into the mount
relief = [22, 22];    // free space under the centre beam so it can flex
relief_d = 4;
screw_d = 4.5;        // M4 through the mount and the base (T-nuts below)
screw_inset = 7;
wire_slot = [6, 3];   // cell wires out of the mount toward the plate centre
cap_d = 30;           // printed cap under the top plate, seated on the dome
cap_t = 5;
seat_d = 1.5;         // conical seat depth locating the dome

/* [Cable channel in the base] */
channel_w = 14;
channel_d = 6;
bay = [90, 70];       // pocket for the four HX711 boards at the centre

top_size = [span_ml + 2 * margin, span_ap + 2 * margin];
base_size = top_size;
cell_xy = [for (sy = [1, -1], sx = [-1, 1]) [sx * span_ml / 2, sy * span_ap / 2]];
cell_names = ["front-left", "front-right", "back-left", "back-right"];
top_z = base_t + mount_h - pocket_d + cell_h + dome_h - seat_d + cap_t;

for (i = [0 : 3])
    echo("LOAD_CELL", i, cell_names[i], cell_xy[i][0], cell_xy[i][1]);
echo("TOP_PLATE", top_size[0], top_size[1], top_t);
echo("PLATFORM_HEIGHT", top_z + top_t);

module rounded_rect(size, r) {
    offset(r = r) square([size[0] - 2 * r, size[1] - 2 * r], center = true);
}

module top_plate() {
    difference() {
        linear_extrude(top_t) rounded_rect(top_size, corner_r);
        // non-slip edge: a rebate all round the top face for an anti-slip strip
        translate([0, 0, top_t - edge_d])
            linear_extrude(edge_d + 1) difference() {
                offset(delta = 1) rounded_rect(top_size, corner_r);
                rounded_rect([top_size[0] - 2 * edge_w, top_size[1] - 2 * edge_w],
                             max(1, corner_r - edge_w / 2));
            }
        // footprints: where the feet go, centred foot_spacing apart
        for (sx = [-1, 1])
            translate([sx * foot_spacing / 2, 0, top_t - foot_mark_d])
                linear_extrude(foot_mark_d + 1) difference() {
                    rounded_rect(foot, 15);
                    rounded_rect([foot[0] - 2 * foot_mark_w, foot[1] - 2 * foot_mark_w], 12);
                }
    }
}

// The base as cut from sheet: outline and the through holes for the mounts' bolts. Kept 2D
// so the DXF needs no 3D boolean (and the renders stay fast).
module base_2d() {
    difference() {
        rounded_rect(base_size, corner_r);
        for (p = cell_xy) translate(p) mount_holes_2d();
    }
}

module base_plate() {
    difference() {
        linear_extrude(base_t) base_2d();
        translate([0, 0, base_t - channel_d]) linear_extrude(channel_d + 1) channel_2d();
    }
}

// The cable channel: across the front and the back cell pairs, joined at the centre bay,
// and out at the front edge toward the screen stand.
module channel_2d() {
    for (sy = [-1, 1])
        translate([0, sy * span_ap / 2]) square([span_ml, channel_w], center = true);
    square([channel_w, span_ap], center = true);
    translate([0, base_size[1] / 4 + 1]) square([channel_w, base_size[1] / 2 + 2], center = true);
    square(bay, center = true);
}

module mount_holes_2d() {
    for (sx = [-1, 1], sy = [-1, 1])
        translate([sx * (mount[0] / 2 - screw_inset), sy * (mount[1] / 2 - screw_inset)])
            circle(d = screw_d);
}

// One printed mount, centred on its cell's load point; the wire slot faces the plate centre
// (flip with wire_dir) so the wires drop into the cable channel.
module cell_mount(wire_dir = 1) {
    difference() {
        linear_extrude(mount_h) difference() {
            square(mount, center = true);
            mount_holes_2d();
        }
        translate([-cell[0] / 2, -cell[1] / 2, mount_h - pocket_d]) cube([cell[0], cell[1], 10]);
        translate([-relief[0] / 2, -relief[1] / 2, mount_h - pocket_d - relief_d])
            cube([relief[0], relief[1], 10]);
        translate([wire_dir > 0 ? cell[0] / 2 - 1 : -mount[0] / 2 - 1, -wire_slot[0] / 2,
                   mount_h - pocket_d - wire_slot[1]])
            cube([mount[0] / 2 - cell[0] / 2 + 2, wire_slot[0], 10]);
    }
}

module mounts() {
    for (p = cell_xy) translate([p[0], p[1], 0]) cell_mount(p[0] < 0 ? 1 : -1);
}

// Printed cap screwed under the top plate: its conical seat rests on the cell's dome.
module cell_cap() {
    difference() {
        cylinder(d = cap_d, h = cap_t);
        translate([0, 0, -0.01]) cylinder(d1 = dome_d + 2 * seat_d, d2 = dome_d * 0.5, h = seat_d);
    }
}

module cell_dummy() {
    color("silver") difference() {
        translate([-cell[0] / 2, -cell[1] / 2, 0]) cube([cell[0], cell[1], cell_h]);
        translate([0, 0, -1]) cylinder(d = 4, h = cell_h + 2);
    }
    color("silver") translate([0, 0, cell_h]) cylinder(d = dome_d, h = dome_h);
}

module assembly() {
    color("burlywood") base_plate();
    color("orange") translate([0, 0, base_t]) mounts();
    for (p = cell_xy) {
        translate([p[0], p[1], base_t + mount_h - pocket_d]) cell_dummy();
        color("orange") translate([p[0], p[1], top_z - cap_t]) cell_cap();
    }
    color("tan") translate([0, 0, top_z + explode]) top_plate();
}

if (part == "assembly") assembly();
else if (part == "top") top_plate();
else if (part == "base") base_plate();
else if (part == "mounts") mounts();
else if (part == "mount") cell_mount();
else if (part == "cap") cell_cap();
else if (part == "top_dxf") rounded_rect(top_size, corner_r);
else if (part == "base_dxf") base_2d();
else assert(false, str("unknown part: ", part));
