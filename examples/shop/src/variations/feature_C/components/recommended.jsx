/** @jsx h */
// Written in JSX (`mendel build` compiles it); the shop has no React, so the factory is `h`
// below, which builds DOM elements.
var PICKS = ['Espresso cups', 'Milk frother'];

function h(tag, props) {
    var element = document.createElement(tag);
    Object.assign(element, props);
    for (var i = 2; i < arguments.length; i++) {
        element.append(arguments[i]);
    }
    return element;
}

function render(element) {
    element.appendChild(
        <aside id="recommended" className="recommended">
            Recommended for you: {PICKS.join(', ')}
        </aside>
    );
}

module.exports = { picks: PICKS, render: render };
