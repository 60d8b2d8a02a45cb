# cmake -DINPUT=prelude.py -DOUTPUT=prelude_py.h -P embed.cmake
# The prelude's source as a NUL-terminated C array (steep_python_prelude).
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       body "${body}")
file(WRITE ${OUTPUT} "/* Generated from prelude.py by embed.cmake. */\n"
     "static const unsigned char steep_python_prelude[] = {\n${body}0x00};\n")
